"""The Streamlit app, run for real with AppTest."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config

APP = str(config.PROJECT_ROOT / "streamlit_app.py")


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def run_app(monkeypatch, models_dir):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    return AppTest.from_file(APP, default_timeout=60).run()


def test_page_loads_with_the_active_model(monkeypatch, tiny_models_dir):
    at = run_app(monkeypatch, tiny_models_dir)
    assert not at.exception
    assert at.title[0].value == "Tweet sentiment"


def test_predict_shows_a_label_and_the_chart(monkeypatch, tiny_models_dir):
    at = run_app(monkeypatch, tiny_models_dir)
    at.text_area(key="predict_text").input("what a great debate, loved it")
    at.button[0].click().run()
    assert not at.exception
    assert at.metric[0].value in ("negative", "neutral", "positive")
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


def test_missing_model_says_how_to_train(monkeypatch, tmp_path):
    at = run_app(monkeypatch, tmp_path / "empty")
    assert not at.exception
    assert "python train.py" in at.info[0].value
