"""Hostile files through the app's uploads: Batch, Data and Retrain (see hostile_files.py)."""

import pytest
from hostile_files import (
    APP,
    CASES,
    PROB_COLUMNS,
    Hostile,
    shown,
)
from streamlit.testing.v1 import AppTest

from pipeline import config
from ui.data_tab import UPLOAD
from ui.job_view import get_runner

# --- the app's uploads ---------------------------------------------------------------------


@pytest.fixture
def app(monkeypatch, app_models_dir):
    """The dashboard on a copy of the shipped models, with the Data and Retrain tabs set to
    an upload, so each tab's uploader is there from the first run."""
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(app_models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["data_source"] = at.session_state["retrain_source"] = UPLOAD
    yield at.run()
    job = get_runner().current
    if job is not None:
        job.cancel()
        job.wait(timeout=120)


def tab(at: AppTest, label: str):
    return next(t for t in at.tabs if t.label == label)


def assert_app_refused(at: AppTest, tab_label: str, fragment: str) -> None:
    errors = [shown(e.value) for e in tab(at, tab_label).error]
    assert len(errors) == 1 and fragment in errors[0], (tab_label, errors)
    assert errors[0].startswith("upload.csv ") or "Too few rows" in errors[0]


def check_batch(at: AppTest, case: Hostile) -> None:
    """The Batch tab scored the upload, or refused it with one message."""
    if case.batch_expects is not None:
        assert_app_refused(at, "Batch", case.batch_expects)
        return
    assert not tab(at, "Batch").error
    scored = tab(at, "Batch").dataframe[-1].value  # after the preview of the text column
    assert len(scored) == case.rows
    assert {"predicted_label", *PROB_COLUMNS} <= set(scored.columns)
    if case.shows:
        assert scored["text"].str.startswith(case.shows).all()
    assert at.download_button(key="batch_download")


def check_data(at: AppTest, case: Hostile) -> None:
    """The Data tab described the upload, or refused it with one message."""
    if case.train is not None:
        assert_app_refused(at, "Data", case.train)
        return
    assert not tab(at, "Data").error
    samples = next(d.value for d in tab(at, "Data").dataframe if list(d.value) == ["label", "text"])
    assert set(samples["label"]) == {"negative", "positive"}  # stray spaces and case folded
    assert next(m.value for m in at.metric if m.label == "Rows") == f"{case.rows:,}"
    if case.shows:
        assert samples["text"].str.startswith(case.shows).all()


def check_retrain(at: AppTest, case: Hostile, before) -> None:
    """The Retrain tab refused the upload before training, or handed the training worker its
    rows decoded, with the labels normalised (then the test cancels it: training itself is
    tested in test_train.py, and below through train.py)."""
    if case.train is not None:
        assert_app_refused(at, "Retrain", case.train)
        assert get_runner().current is before  # no job was started
        return
    assert not tab(at, "Retrain").error
    job = get_runner().current
    data = job.target.kwargs["data"]
    job.cancel()
    assert job.wait(timeout=60)["status"] == "cancelled"
    assert data.source == "upload.csv" and len(data.frame) == case.rows
    assert data.labels == ["negative", "positive"]
    if case.shows:
        assert data.frame["text"].str.startswith(case.shows).all()


@pytest.mark.parametrize("name", list(CASES))
def test_the_app_uploads_score_describe_or_refuse_each_hostile_file(app, name):
    # The same file goes to the Batch, Data and Retrain uploads of one session, then Score
    # and Start training are pressed (Score only appears for a file the tab accepted).
    case = CASES[name]
    for key in ("batch_file", "data_file", "retrain_file"):
        app.file_uploader(key=key).set_value(("upload.csv", case.data(), "text/csv"))
    app.run()
    assert not app.exception
    score = [button for button in app.button if button.key == "batch_score"]
    assert bool(score) == (case.batch_expects is None)
    if score:
        score[0].click()
    architecture = app.selectbox(key="retrain_architecture").value
    app.number_input(key=f"param_{architecture}_epochs").set_value(1)
    before = get_runner().current
    app.button(key="FormSubmitter:retrain_form-Start training").click().run()
    assert not app.exception
    check_batch(app, case)
    check_data(app, case)
    check_retrain(app, case, before)
