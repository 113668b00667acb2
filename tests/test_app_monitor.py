"""The Monitor tab and the prediction log in the dashboard, run for real with AppTest: the log
off, the Predict and Batch tabs appending once per answer, the log over time, a quiet window,
a drifted one with its banner and words, and the drifted texts sent to the Label tab."""

import json
import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.analysis.evaluations import evaluate_version, load_evaluation_predictions
from pipeline.analysis.predictions import load_predictions
from pipeline.monitor.drift import MIN_WINDOW_TEXTS
from pipeline.monitor.log import (
    LOCAL_FILE,
    LOG_DIR,
    SETTING_ENV,
    PredictionLog,
    flush_shared,
    log_location,
)
from pipeline.registry import Registry
from tests.test_app_label import shown

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
# Texts nothing like the debate tweets the shipped default was trained and tested on.
PHONE_WORDS = ["battery", "charger", "screen", "iphone", "update", "camera", "apps", "ios"]


@pytest.fixture(autouse=True)
def fresh_state():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def models(tmp_path, tiny_models_dir):
    """A copy of the tiny sample model's registry (saved with its test predictions), no log."""
    return shutil.copytree(tiny_models_dir, tmp_path / "models")


def open_app(monkeypatch, models_dir, log="texts", tab=None) -> AppTest:
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    if log is None:
        monkeypatch.delenv(SETTING_ENV, raising=False)
    else:
        monkeypatch.setenv(SETTING_ENV, log)
    at = AppTest.from_file(APP, default_timeout=120)
    if tab:
        at.session_state["tab"] = tab
    return at.run()


def logged(models_dir) -> pd.DataFrame:
    """The log as stored, once the app's queue (in this process) is written."""
    flush_shared(str(models_dir))
    return PredictionLog(log_location(str(models_dir))).read()


def monitor(at: AppTest):
    return next(tab for tab in at.tabs if tab.label == "Monitor")


def texts_shown(at: AppTest) -> list[str]:
    tab = monitor(at)
    kinds = ("success", "info", "warning", "error", "caption", "markdown")
    return [shown(element.value) for kind in kinds for element in getattr(tab, kind)]


def write_log(models_dir, version, texts, probabilities, labels, start, step_seconds=30):
    """Log records as the app writes them, one every `step_seconds` from `start`."""
    lines = []
    for i, (text, row) in enumerate(zip(texts, probabilities, strict=True)):
        best = int(np.argmax(row))
        lines.append(
            json.dumps(
                {
                    "time": (start + timedelta(seconds=i * step_seconds)).isoformat(),
                    "version": version,
                    "source": "api",
                    "text": text,
                    "text_sha256": "",
                    "predicted": labels[best],
                    "confidence": float(row[best]),
                    **{f"prob_{label}": float(p) for label, p in zip(labels, row, strict=True)},
                }
            )
        )
    path = models_dir / LOG_DIR / LOCAL_FILE
    path.parent.mkdir(exist_ok=True)
    with open(path, "a") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def evaluated_models(tmp_path_factory, tiny_models_dir):
    """The tiny registry with an evaluation on data/sample.csv (700 labelled texts), the
    reference the drift tests choose: its test part alone is too small to judge texts."""
    target = shutil.copytree(tiny_models_dir, tmp_path_factory.mktemp("evaluated") / "models")
    registry = Registry(target)
    evaluate_version(registry, None, config.SAMPLE_DATA_PATH)
    return target


@pytest.fixture
def monitored(tmp_path, evaluated_models):
    return shutil.copytree(evaluated_models, tmp_path / "models")


def reference_like(models_dir, n, evaluation=False):
    """`n` texts drawn from the active version's test part or its evaluation (the
    reference), with the probabilities it saved."""
    registry = Registry(models_dir)
    version = registry.active_version()
    if evaluation:
        source = load_evaluation_predictions(
            registry, version, registry.evaluations(version)[0]["evaluation"]
        )
    else:
        source = load_predictions(registry, version)
    test = source.sample(n, replace=not evaluation, random_state=0)
    labels = registry.metadata(version)["labels"]
    return version, labels, test["text"].tolist(), test[[f"prob_{x}" for x in labels]].to_numpy()


def choose_evaluation(at: AppTest, models_dir) -> AppTest:
    registry = Registry(models_dir)
    version = registry.active_version()
    key = registry.evaluations(version)[0]["evaluation"]
    return at.selectbox(key=f"monitor_reference_{version}").select(key).run()


def phone_texts(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        f"my {rng.choice(PHONE_WORDS)} and {rng.choice(PHONE_WORDS)} broke again {i}"
        for i in range(n)
    ]


def test_the_log_is_off_by_default_and_the_tab_says_how_to_turn_it_on(monkeypatch, models):
    at = open_app(monkeypatch, models, log=None, tab="Monitor")
    assert any("prediction log is off" in t and SETTING_ENV in t for t in texts_shown(at))
    assert "No prediction is logged yet." in texts_shown(at)


def test_a_bad_setting_is_named(monkeypatch, models):
    at = open_app(monkeypatch, models, log="sometimes", tab="Monitor")
    assert any("can be one of off, texts, hashes" in shown(e.value) for e in monitor(at).error)


def test_predict_logs_each_submitted_text_once_however_often_the_page_reruns(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.text_area(key="predict_text").input("Great answers tonight!")
    at = at.button(key="FormSubmitter:predict_form-Predict").click().run()
    at = at.run()  # a rerun (any click elsewhere) shows the result again but logs nothing
    at.text_area(key="predict_text").input("WORST SHOW EVER")
    at = at.button(key="FormSubmitter:predict_form-Predict").click().run()
    frame = logged(models)
    assert frame["text"].tolist() == ["Great answers tonight!", "WORST SHOW EVER"]
    assert frame["source"].unique().tolist() == ["dashboard"]
    assert frame["version"].unique().tolist() == [Registry(models).active_version()]


def test_the_batch_tab_logs_every_row_it_scored(monkeypatch, models):
    at = open_app(monkeypatch, models)
    content = pd.DataFrame({"text": ["great debate", "awful night", "who won?"]}).to_csv(
        index=False
    )
    at = at.file_uploader(key="batch_file").set_value(("t.csv", content.encode(), "text/csv")).run()
    at = at.button(key="batch_score").click().run()
    frame = logged(models)
    assert frame["text"].tolist() == ["great debate", "awful night", "who won?"]
    assert frame["source"].unique().tolist() == ["batch"]


def test_a_window_too_small_says_how_many_more_texts_are_needed(monkeypatch, models):
    version, labels, texts, probs = reference_like(models, 50)
    write_log(models, version, texts, probs, labels, datetime(2026, 12, 1, 9, tzinfo=UTC))
    at = open_app(monkeypatch, models, tab="Monitor")
    needed = max(MIN_WINDOW_TEXTS, 500) - 50
    assert any(f"{needed:,} more are needed" in t for t in texts_shown(at)), texts_shown(at)
    assert "One point per hour, 50 predictions in all." in texts_shown(at)


def test_a_quiet_stream_shows_its_timeline_and_no_banner(monkeypatch, monitored):
    version, labels, texts, probs = reference_like(monitored, 600, evaluation=True)
    write_log(monitored, version, texts, probs, labels, datetime(2026, 12, 1, 9, tzinfo=UTC))
    at = choose_evaluation(open_app(monkeypatch, monitored, tab="Monitor"), monitored)
    tab = monitor(at)
    assert not tab.error
    assert "No drift in the latest window." in texts_shown(at)
    (table,) = tab.dataframe
    assert table.value["texts"].tolist() == [500] and table.value["drift"].tolist() == ["no"]
    assert "One point per hour, 600 predictions in all." in texts_shown(at)


def test_a_drifted_window_raises_the_banner_and_its_texts_go_to_the_label_tab(
    monkeypatch, monitored
):
    version, labels, texts, probs = reference_like(monitored, 500, evaluation=True)
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    write_log(monitored, version, texts, probs, labels, start)
    phones = phone_texts(500)
    negative = np.full((500, len(labels)), 0.1 / (len(labels) - 1))
    negative[:, labels.index("negative")] = 0.9
    write_log(monitored, version, phones, negative, labels, start + timedelta(days=1))
    at = choose_evaluation(open_app(monkeypatch, monitored, tab="Monitor"), monitored)
    tab = monitor(at)
    (banner,) = tab.error
    assert shown(banner.value).startswith("**Drift.** The latest window")
    assert "The texts changed" in shown(banner.value)
    words = next(t for t in texts_shown(at) if t.startswith("Words that give these texts away"))
    assert any(word in words for word in PHONE_WORDS)
    table = tab.dataframe[0].value
    assert table["drift"].tolist() == ["yes", "no"]

    at = at.button(key="monitor_send").click().run()
    assert at.session_state["tab"] == "Label"
    assert at.radio(key="label_pool_source").value == "Texts sent from the Monitor tab"
    # Picking from that pool picks among exactly the drifted window's texts.
    at.number_input(key="label_n").set_value(5)
    at = at.button(key="label_pick").click().run()
    label = next(t for t in at.tabs if t.label == "Label")
    said = [shown(str(e.value)) for e in label if type(e).__name__ in ("Caption", "Markdown")]
    assert any("of the 500 rows of drifted window 2026-12-02" in t for t in said), said
    card = shown(label.markdown[0].value)
    assert any(text in card for text in phones)
