"""The Label tab, run for real with AppTest over the tiny sample model: picking, labelling
by the buttons, skip, undo, progress, the labelled set, bad pools, the admin guard, and a
retrain started with the labels."""

import re
import shutil

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.labelled import read_labelled_set, save_label
from pipeline.registry import Registry
from pipeline.text import normalize_for_grouping
from ui.job_view import get_runner

APP = str(config.PROJECT_ROOT / "streamlit_app.py")


@pytest.fixture(autouse=True)
def fresh_state():
    st.cache_data.clear()
    yield
    job = get_runner().current
    if job is not None and job.running:
        job.cancel()
        job.wait(timeout=120)
    st.cache_data.clear()


@pytest.fixture
def models(tmp_path, tiny_models_dir):
    """A copy of the tiny sample model's registry: the labels are written beside it."""
    return shutil.copytree(tiny_models_dir, tmp_path / "models")


def shown(markdown: str) -> str:
    """The text a Markdown element shows: the app backslash-escapes the data it quotes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def open_app(monkeypatch, models_dir, password=None, train_open=None) -> AppTest:
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    if password:
        at.secrets["admin_password"] = password
    if train_open is not None:
        at.secrets["require_password_to_train"] = not train_open
    return at.run()


def label_tab(at: AppTest):
    return next(tab for tab in at.tabs if tab.label == "Label")


def texts_shown(at: AppTest) -> list[str]:
    tab = label_tab(at)
    kinds = ("success", "info", "warning", "error", "caption", "markdown")
    return [shown(element.value) for kind in kinds for element in getattr(tab, kind)]


def progress(at: AppTest) -> str:
    (bar,) = label_tab(at).get("progress")
    return bar.proto.text


def current_text(at: AppTest) -> str:
    """The text on the labelling card (the first Markdown block of the Label tab)."""
    return shown(label_tab(at).markdown[0].value)


def pick(at: AppTest, n: int, strategy: str | None = None) -> AppTest:
    if strategy:
        at.selectbox(key="label_strategy").select(strategy)
    at.number_input(key="label_n").set_value(n)
    return at.button(key="label_pick").click().run()


def press(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception
    return at


def test_texts_are_labelled_by_the_buttons_skipped_undone_and_counted(monkeypatch, models):
    registry = Registry(models)
    version = registry.active_version()
    at = open_app(monkeypatch, models)
    assert at.selectbox(key="label_strategy").value == "entropy"  # the default: the bench's winner
    assert any("Pick texts to label" in text for text in texts_shown(at))
    at = pick(at, 5)
    assert not at.exception and progress(at) == "0 of 5"
    assert any("Picked 5 of the 700 rows of data/sample.csv by entropy" in t
               for t in texts_shown(at))  # fmt: skip
    assert any(f"Version {version} guesses" in t for t in texts_shown(at))
    # Without a name, no label can be given.
    assert at.button(key="label_class_0").disabled and at.button(key="label_skip").disabled
    at.text_input(key="label_annotator").input("ann").run()
    labels = [at.button(key=f"label_class_{i}").label for i in range(3)]
    assert labels == ["negative", "neutral", "positive"]

    first = current_text(at)
    press(at, "label_class_2")
    assert progress(at) == "1 of 5"
    second = current_text(at)
    press(at, "label_skip")
    assert progress(at) == "2 of 5"
    third = current_text(at)
    press(at, "label_class_0")
    assert progress(at) == "3 of 5"
    assert "You labelled 2 and skipped 1." in texts_shown(at)
    saved = read_labelled_set(registry).frame
    assert saved[["text", "label"]].values.tolist() == [[first, "positive"], [third, "negative"]]
    assert set(saved["annotator"]) == {"ann"} and set(saved["pool"]) == {"data/sample.csv"}
    assert set(saved["model_version"]) == {version} and saved["model_guess"].ne("").all()

    press(at, "label_undo")  # the last label is removed, and its text comes back
    assert progress(at) == "2 of 5" and current_text(at) == third
    press(at, "label_undo")  # the skip is undone: the skipped text comes back, no label lost
    assert progress(at) == "1 of 5" and current_text(at) == second
    assert read_labelled_set(registry).frame["text"].tolist() == [first]
    assert "1 text labelled (1 label given)" in " ".join(texts_shown(at))
    assert at.text_input(key="label_annotator").value == "ann"  # kept in the session
    for _ in range(4):
        press(at, "label_class_1")
    assert progress(at) == "5 of 5"
    assert "All 5 texts are done. Pick more, or retrain below." in texts_shown(at)
    assert at.button(key="label_class_1").disabled
    assert read_labelled_set(registry).texts == 5


def test_a_text_someone_else_labelled_meanwhile_is_passed_over(monkeypatch, models):
    registry = Registry(models)
    at = open_app(monkeypatch, models)
    at.text_input(key="label_annotator").input("ann").run()
    at = pick(at, 3, "random")
    queue = at.session_state["label_queue"]
    save_label(registry, queue.texts[1].upper(), "neutral", "bob", "pool.csv")  # a copy
    press(at, "label_class_0")
    assert progress(at) == "2 of 3" and current_text(at) == queue.texts[2]
    assert "You labelled 1 and skipped 0, 1 labelled by someone else meanwhile." in texts_shown(at)


def test_labelled_texts_and_their_copies_are_never_picked_again(monkeypatch, models):
    registry = Registry(models)
    sample = pd.read_csv(config.SAMPLE_DATA_PATH)
    done = sample["text"].head(50).tolist()
    for text in done:
        save_label(registry, text, "neutral", "bob", "pool.csv")
    at = open_app(monkeypatch, models)
    at = pick(at, 1000, "random")
    queue = at.session_state["label_queue"]
    picked = {normalize_for_grouping(t) for t in queue.texts}
    assert not picked & {normalize_for_grouping(t) for t in done}
    left_out = queue.summary.excluded_as_labelled  # the 50 rows and their copies in the pool
    assert left_out >= 50
    assert any(f"{left_out} texts already labelled" in t for t in texts_shown(at))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text,sentiment\n", "has a header but no rows"),
        (b"id,score\n1,2\n3,4\n", "has no column of texts"),
    ],
)
def test_a_pool_without_rows_or_texts_gets_a_clear_message(monkeypatch, models, content, message):
    at = open_app(monkeypatch, models)
    at.radio(key="label_pool_source").set_value("Upload a CSV").run()
    at.file_uploader(key="label_pool_file").set_value(("pool.csv", content, "text/csv")).run()
    assert not at.exception
    assert any(message in shown(e.value) for e in label_tab(at).error)
    assert not [b for b in label_tab(at).button if b.key == "label_pick"]


def test_a_pool_with_every_text_labelled_says_so(monkeypatch, models):
    registry = Registry(models)
    save_label(registry, "the only text", "neutral", "bob", "pool.csv")
    at = open_app(monkeypatch, models)
    at.radio(key="label_pool_source").set_value("Upload a CSV").run()
    pool = b"id,tweet\n1,the only text\n2,THE ONLY TEXT\n"
    at.file_uploader(key="label_pool_file").set_value(("pool.csv", pool, "text/csv")).run()
    assert at.selectbox(key="label_pool_column").value == "tweet"  # guessed, and changeable
    assert any("texts of column **tweet**, guessed" in t for t in texts_shown(at))
    at = pick(at, 5)
    assert not at.exception
    assert "No text of the pool is left to pick" in shown(label_tab(at).error[0].value)


def test_with_the_admin_password_labelling_is_guarded_as_training_is(monkeypatch, models):
    at = open_app(monkeypatch, models, password="s3cret")
    at.text_input(key="label_annotator").input("ann").run()
    at = pick(at, 2, "random")  # picking stays open
    assert any("Labelling needs the admin password" in t for t in texts_shown(at))
    assert at.button(key="label_class_0").disabled and at.button(key="label_retrain").disabled
    at.text_input(key="admin_password_input").input("s3cret").run()
    assert not at.button(key="label_class_0").disabled
    open_to_all = open_app(monkeypatch, models, password="s3cret", train_open=True)
    open_to_all.text_input(key="label_annotator").input("ann").run()
    open_to_all = pick(open_to_all, 2, "random")
    assert not open_to_all.button(key="label_class_0").disabled


def test_retrain_with_these_labels_starts_the_training_job_with_them(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.text_input(key="label_annotator").input("ann").run()
    at = pick(at, 3, "random")
    queue = at.session_state["label_queue"]
    press(at, "label_class_0")
    press(at, "label_class_2")
    at.radio(key="label_base_source").set_value("data/sample.csv").run()
    at.selectbox(key="label_architecture").select("fasttext").run()
    before = get_runner().current
    press(at, "label_retrain")
    job = get_runner().current
    assert job is not before and job.running
    kwargs = job.target.kwargs
    extra = kwargs["extra_training_rows"]
    assert extra.values.tolist() == [[queue.texts[0], "negative"], [queue.texts[1], "positive"]]
    assert kwargs["params"].architecture == "fasttext"
    assert kwargs["data"].source.endswith("sample.csv")
    assert "+ 2 labelled texts" in kwargs["command"]
    assert any("Training fasttext on" in t and "+ 2 labelled texts is running" in t
               for t in texts_shown(at))  # fmt: skip
    retrain = next(tab for tab in at.tabs if tab.label == "Retrain")
    assert [b for b in retrain.button if b.key == "retrain_cancel"]  # its live view is there
    job.cancel()
    assert job.wait(timeout=120)["status"] == "cancelled"


def test_the_retrain_forms_labelled_set_option_refuses_an_empty_set(monkeypatch, models):
    at = open_app(monkeypatch, models)
    at.radio(key="retrain_source").set_value("data/sample.csv").run()
    at.checkbox(key="retrain_labels").check()
    before = get_runner().current
    at.button(key="FormSubmitter:retrain_form-Start training").click().run()
    assert "The labelled set is empty" in shown(at.error[0].value)
    assert get_runner().current is before
