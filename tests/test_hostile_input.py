"""Hostile texts: the predictor never crashes, the app shows a prediction or a message, and
user text (texts, labels, file and column names) is never rendered as HTML or Markdown."""

import re

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import shipped_version
from streamlit.testing.v1 import AppTest

from pipeline import config, load_predictor
from pipeline.feedback import record_feedback

HOSTILE = {
    "empty": "",
    "whitespace only": " \t\n ",
    "1 MB of text": "debate " * 150_000,
    "one very long token": "a" * 1_000_000,
    "emoji only": "\U0001f621\U0001f44d\U0001f525",
    "right-to-left": "\u05d6\u05d4 \u05d4\u05d9\u05d4 \u05e0\u05d5\u05e8\u05d0",
    "zero-width and controls": "great\u200b\u200d\u202e night\x07\x1b[31m",
    "null bytes": "bad\x00\x00show",
    "lone surrogates": "bad \ud800 show \udfff",
    "HTML/JS": "<img src=x onerror=alert(1)>",
    "Markdown": "# Big **bold** [link](javascript:alert(1))",
}


@pytest.mark.parametrize(
    ("architecture", "backend"),
    [("fasttext", "numpy"), ("fasttext", "keras"), ("minilm+fasttext", "auto")],
)
def test_the_predictor_scores_every_hostile_text(architecture, backend):
    version = shipped_version(architecture)
    predictor = load_predictor(config.DEFAULT_MODELS_DIR, version, backend=backend)
    probabilities = predictor.predict_proba(list(HOSTILE.values()))
    assert probabilities.shape == (len(HOSTILE), len(predictor.labels))
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)


# A browser sends widget values as UTF-8 protobuf, which cannot carry lone surrogates (AppTest
# refuses to encode them too); the predictor test above covers them.
APP_CASES = [name for name in HOSTILE if name != "lone surrogates"]


@pytest.mark.parametrize("name", APP_CASES)
def test_the_app_answers_every_hostile_text(monkeypatch, app_models_dir, name):
    st.cache_resource.clear()
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(app_models_dir))
    at = AppTest.from_file(str(config.PROJECT_ROOT / "streamlit_app.py"), default_timeout=90)
    at.run()
    at.text_area(key="predict_text").input(HOSTILE[name][:1000])  # the box holds 1,000
    at.button(key="FormSubmitter:predict_form-Predict").click().run()
    assert not at.exception
    labels = [m.value for m in at.metric if m.label == "Predicted label"]
    warnings = [w.value for w in at.warning]
    assert labels or warnings, "neither a prediction nor a message"
    for html in at.get("html"):
        assert "<img" not in html.proto.body and "<script" not in html.proto.body
    assert_no_live_markup(at)


# --- user text is shown as text, never rendered as HTML or Markdown ---------------------------

MARKUP = {
    "html": "<img src=x onerror=alert(1)>",
    "markdown": "**bold** [x](javascript:alert(1))",
    "script": "<script>alert(1)</script>",
}
# Markup that would be live in a Markdown element: not preceded by the escaping backslash.
LIVE_MARKUP = [
    re.compile(r"(?<!\\)<(img|script)", re.IGNORECASE),
    re.compile(r"(?<!\\)\*\*bold"),
    re.compile(r"\]\(javascript"),
]
MARKDOWN_ELEMENTS = (
    "markdown", "caption", "error", "warning", "info", "success", "toast",
    "title", "header", "subheader",
)  # fmt: skip


def rendered_as_markdown(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as Markdown."""
    texts = [str(e.value) for kind in MARKDOWN_ELEMENTS for e in at.get(kind)]
    texts += [t for m in at.metric for t in (m.label, m.value, m.proto.delta)]
    texts += [t for r in at.radio for t in (r.label, *r.options)]
    return texts


def assert_no_live_markup(at: AppTest) -> None:
    assert not at.exception
    for text in rendered_as_markdown(at):
        for pattern in LIVE_MARKUP:
            assert not pattern.search(text), f"live markup in a Markdown element: {text!r}"


def open_app(monkeypatch, models_dir) -> AppTest:
    st.cache_data.clear()
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    return AppTest.from_file(str(config.PROJECT_ROOT / "streamlit_app.py"), default_timeout=90)


def _predict_tab_with_markup_labels():
    # Run by AppTest as a page of its own: a model whose labels are markup (labels come
    # from the training data) and a text that is markup.
    import numpy as np

    from pipeline.predict import Predictor
    from ui.predict_tab import result_ui

    labels = [
        "<img src=x onerror=alert(1)>",
        "**bold** [x](javascript:alert(1))",
        "<script>alert(1)</script>",
    ]
    weights = np.float32([0.6, 0.3, 0.1])
    predictor = Predictor(lambda texts: np.tile(weights, (len(texts), 1)), labels, {"version": "t"})
    result_ui(predictor, "<script>alert(1)</script> **bold** <img src=x onerror=alert(1)>")


def test_predict_result_and_feedback_show_markup_labels_as_text():
    at = AppTest.from_function(_predict_tab_with_markup_labels, default_timeout=60).run()
    assert_no_live_markup(at)
    label = next(m for m in at.metric if m.label == "Predicted label")
    assert label.value == r"\<img src=x onerror=alert\(1\)\>"
    assert at.radio(key="feedback_label").value == MARKUP["markdown"]  # stored as it is
    explanation = at.get("html")[0].proto.body
    assert "&lt;img" in explanation and "&lt;script&gt;" in explanation
    assert "<img" not in explanation and "<script" not in explanation


def test_batch_table_shows_markup_texts_and_column_names_as_data(monkeypatch, app_models_dir):
    at = open_app(monkeypatch, app_models_dir).run()
    frame = pd.DataFrame({"text": list(MARKUP.values()), MARKUP["html"]: list(MARKUP.values())})
    upload = (f"{MARKUP['markdown']}.csv", frame.to_csv(index=False).encode(), "text/csv")
    at.file_uploader(key="batch_file").set_value(upload).run()
    at.selectbox(key="batch_column").select(MARKUP["html"]).run()  # named in the caption
    at.button(key="batch_score").click().run()
    assert_no_live_markup(at)
    scored = next(d.value for d in at.dataframe if "predicted_label" in d.value)
    assert scored["text"].tolist() == list(MARKUP.values())
    assert scored[MARKUP["html"]].tolist() == list(MARKUP.values())


def test_data_samples_show_markup_texts_and_labels_as_data(monkeypatch, app_models_dir):
    at = open_app(monkeypatch, app_models_dir)
    at.session_state["data_source"] = "Upload a CSV"
    at.run()
    labels = [MARKUP["html"], MARKUP["markdown"]]
    rows = [(f"{MARKUP['script']} {i}", labels[i % 2]) for i in range(24)]
    csv = pd.DataFrame(rows, columns=["text", "sentiment"]).to_csv(index=False).encode()
    at.file_uploader(key="data_file").set_value(("markup.csv", csv, "text/csv")).run()
    assert_no_live_markup(at)
    samples = next(d.value for d in at.dataframe if list(d.value) == ["label", "text"])
    assert set(samples["label"]) == set(labels)
    assert samples["text"].str.startswith(MARKUP["script"]).all()


def test_the_feedback_list_shows_markup_texts_as_data(monkeypatch, app_models_dir):
    for text in MARKUP.values():
        record_feedback(text, "negative", "positive", "v1")
    at = open_app(monkeypatch, app_models_dir).run()
    assert_no_live_markup(at)
    table = next(d.value for d in at.dataframe if "correct_label" in d.value.columns)
    assert sorted(table["text"]) == sorted(MARKUP.values())


def test_error_messages_quote_markup_file_and_column_names_as_text(monkeypatch, app_models_dir):
    at = open_app(monkeypatch, app_models_dir)
    at.session_state["data_source"] = "Upload a CSV"
    at.run()
    csv = f"{MARKUP['html']},{MARKUP['markdown']}\na,b\n".encode()
    at.file_uploader(key="data_file").set_value((f"{MARKUP['script']}.csv", csv, "text/csv"))
    at.run()
    assert_no_live_markup(at)
    (error,) = at.error
    assert r"\<script\>alert\(1\)\</script\>\.csv has no column" in error.value
    assert r"Columns present\: \<img src=x onerror=alert\(1\)\>" in error.value
