"""The Retrain tab and the admin guard, run for real with AppTest."""

import re
import threading

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.params import PARAM_SPECS
from pipeline.registry import Registry
from ui.retrain_tab import get_runner

APP = str(config.PROJECT_ROOT / "streamlit_app.py")


@pytest.fixture(autouse=True)
def fresh_state():
    st.cache_data.clear()
    yield
    job = get_runner().current
    if job is not None:
        job.cancel()
        job.wait(timeout=120)
    st.cache_data.clear()


@pytest.fixture
def models(tmp_path, app_models_dir):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(app_models_dir, root)
    return root


def shown(markdown: str) -> str:
    """The text a Markdown element shows: the app backslash-escapes the data it quotes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def open_app(monkeypatch, models_dir, password=None) -> AppTest:
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    if password:
        at.secrets["admin_password"] = password
    return at.run()


def submit(at: AppTest, **values) -> AppTest:
    arch = at.selectbox(key="retrain_architecture").value
    for name, value in values.items():
        at.number_input(key=f"param_{arch}_{name}").set_value(value)
    return at.button(key="FormSubmitter:retrain_form-Start training").click().run()


def test_form_has_one_widget_per_hyperparameter_within_the_caps(monkeypatch, models):
    at = open_app(monkeypatch, models)
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    for spec in PARAM_SPECS[1:]:
        key = f"param_fasttext_{spec.name}"
        if not spec.applies_to("fasttext"):
            assert key not in keys  # the form shows only what the recipe uses
            continue
        kind = "selectbox" if spec.choices else "number_input"
        widget = getattr(at, kind)(key=key)
        if kind == "number_input":
            assert widget.min == spec.low
            assert widget.max == min(
                spec.high, {"epochs": 30, "vocab_size": 50_000}.get(spec.name, spec.high)
            )
    at.selectbox(key="retrain_architecture").select("lstm").run()
    assert at.number_input(key="param_lstm_vocab_size").value == 2000


def test_the_transformer_form_and_its_expected_training_time(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.selectbox(key="retrain_architecture").select("minilm").run()
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    assert at.number_input(key="param_minilm_learning_rate").value == 8e-5
    assert at.number_input(key="param_minilm_warmup_share").value == 0.1
    assert "param_minilm_vocab_size" not in keys
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    expected = [c.value for c in at.caption if c.value.startswith("Expected training time")]
    assert len(expected) == 1 and "for 700 rows" in expected[0]
    assert "A final refit about doubles it." in expected[0]


def test_the_ensemble_form_shows_the_members_weight_and_the_transformers_settings(
    monkeypatch, models
):
    at = open_app(monkeypatch, models)
    at.selectbox(key="retrain_architecture").select("minilm+fasttext").run()
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    assert at.number_input(key="param_minilm+fasttext_fasttext_weight").value == 0.5
    assert at.number_input(key="param_minilm+fasttext_learning_rate").value == 8e-5
    assert "geometric mean" in " ".join(c.value for c in at.caption)
    assert "param_minilm+fasttext_quantize" in keys  # a selectbox, as the one below would be
    assert at.selectbox(key="param_minilm+fasttext_lite_copy").value == "yes"
    assert at.selectbox(key="param_minilm+fasttext_final_refit").value == "no"
    # Settings the pair does not use are not offered.
    for name in ("vocab_size", "embedding_dim"):
        assert f"param_minilm+fasttext_{name}" not in keys


def test_data_without_the_label_column_is_refused_before_training(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("Upload a CSV").run()
    csv = pd.DataFrame({"text": ["a", "b"], "mood": ["x", "y"]}).to_csv(index=False).encode()
    at.file_uploader(key="retrain_file").set_value(("mine.csv", csv, "text/csv")).run()
    at = submit(at)
    assert not at.exception
    assert "Columns present: text, mood" in shown(at.error[0].value)
    assert get_runner().current is None or not get_runner().current.running


def test_a_single_class_is_refused_before_training(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("Upload a CSV").run()
    csv = pd.DataFrame({"text": list("abcdefghijkl"), "sentiment": ["pos"] * 12}).to_csv(
        index=False
    )
    at.file_uploader(key="retrain_file").set_value(("one.csv", csv.encode(), "text/csv")).run()
    at = submit(at)
    assert "only one class" in at.error[0].value


def test_a_second_job_is_told_one_is_running(monkeypatch, models):
    release = threading.Event()
    get_runner().start(lambda report, stop: release.wait(timeout=60) and {}, "someone else's job")
    try:
        at = open_app(monkeypatch, models)
        at.radio(key="retrain_source").set_value("data/sample.csv").run()
        at = submit(at, epochs=1)
        assert "already running (someone else's job)" in shown(at.error[0].value)
    finally:
        release.set()


def test_a_retrain_finishes_with_a_comparison_and_can_be_promoted(monkeypatch, models):
    registry = Registry(models)
    before = registry.versions()
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    at = submit(at, epochs=1, vocab_size=2000)
    state = get_runner().current.wait(timeout=300)
    assert state["status"] == "succeeded", state["error"]
    at.run()
    assert not at.exception
    new = state["result"]["version"]
    assert "Saved version " + new in at.success[0].value
    table = next(d.value for d in at.dataframe if "model" in d.value.columns)
    assert table["model"].str.startswith("baseline").any()
    assert table["model"].str.startswith("active").any()
    assert registry.active_version() == before[0]  # never promoted by itself
    at.button(key="retrain_try").click().run()
    assert at.selectbox(key="version").value == new
    at.button(key="retrain_promote").click().run()
    assert registry.active_version() == new


def test_without_the_admin_password_promote_delete_and_train_are_refused(
    monkeypatch, models, tiny_models_dir
):
    import shutil

    tiny = Registry(tiny_models_dir).versions()[0]
    shutil.copytree(tiny_models_dir / tiny, models / tiny)
    at = open_app(monkeypatch, models, password="s3cret")
    at.selectbox(key="models_detail").select(tiny).run()
    assert at.button(key="promote").disabled
    assert at.checkbox(key="delete_confirm").disabled
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    at = submit(at, epochs=1)
    assert "needs the admin password" in at.warning[0].value
    assert get_runner().current is None or not get_runner().current.running
    at.text_input(key="admin_password_input").input("wrong").run()
    assert at.checkbox(key="delete_confirm").disabled
    at.text_input(key="admin_password_input").input("s3cret").run()
    assert not at.checkbox(key="delete_confirm").disabled
    assert not at.button(key="promote").disabled
    assert all("s3cret" not in str(element.value) for element in at.caption)
