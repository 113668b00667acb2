"""Predict tab: one text in, the label, every class's probability and a word explanation
(at once for the fast models, on request for the transformer ones). The text is kept in the
page's address (`?text=...`), so a link opens on the same text and its result."""

import html
from urllib.parse import urlencode, urlsplit

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.data import data_scope
from pipeline.errors import SentimentError
from pipeline.explain import MAX_EXPLAINED_WORDS, explain_by_occlusion
from pipeline.feedback import record_feedback
from pipeline.monitor.log import log_predictions
from pipeline.predict import Predictor
from pipeline.recipes import explains_at_once
from pipeline.text import cut_text
from ui.charts import label_colors, probability_spec
from ui.common import escape_markdown, show_error

FEEDBACK_COUNT_KEY = "feedback_given"
# The query parameter that carries the text, and the session key of the last one loaded.
TEXT_PARAM = "text"
SHARED_KEY = "shared_text"
# Each submitted text counts once in the prediction log, however often the page reruns.
SUBMISSION_KEY = "prediction_submission"
LOGGED_KEY = "prediction_logged"
# One switch for the models that explain at once and one for those that explain on request,
# so each keeps the user's own choice when the sidebar changes the model.
EXPLAIN_KEYS = {True: "explain_words", False: "explain_words_on_request"}
EXPLAIN_COST = (
    "With a transformer model that is about ten predictions' work, so it is off until you "
    "turn it on."
)
EXAMPLES = {
    "negative": "WORST SHOW EVER. What a disaster of a debate.",
    "neutral": "Who is moderating the debate tonight?",
    "positive": "Great answers tonight, so proud of our candidates!",
}


def _use_example(text: str) -> None:
    st.session_state["predict_text"] = text


def examples_ui() -> None:
    """Buttons that fill the text box with an example of each class."""
    st.caption("Try an example:")
    for column, (label, text) in zip(st.columns(len(EXAMPLES)), EXAMPLES.items(), strict=True):
        column.button(
            text, key=f"example_{label}", on_click=_use_example, args=(text,), width="stretch"
        )


def input_ui(explain_default: bool) -> str | None:
    """The text box, the explanation switch and the Predict button, in a form. Returns the
    submitted text."""
    with st.form("predict_form"):
        # No max_chars: a browser drops a paste longer than a text box's limit, so a long
        # text is accepted here and cut, with a note, when it is classified.
        text = st.text_area(
            "Text to classify",
            key="predict_text",
            placeholder="Type or paste a tweet…",
        )
        left, right = st.columns([1, 3], vertical_alignment="center")
        submitted = left.form_submit_button("Predict", type="primary")
        right.toggle(
            "Explain the words",
            value=explain_default,
            key=EXPLAIN_KEYS[explain_default],
            help="Scores the text once more per word to show which words drove the label. "
            + ("Cheap for this model." if explain_default else EXPLAIN_COST),
        )
    return text if submitted else None


def explanation_html(explanation: dict, labels: list[str]) -> str:
    """The text with each word tinted by the class it pushes toward; every word escaped."""
    colors = label_colors(labels)
    strongest = max((w["weight"] for w in explanation["words"]), default=0) or 1.0
    spans = []
    for word in explanation["words"]:
        alpha = word["weight"] / strongest
        color = colors.get(word["toward"], "#ffffff")
        title = f"toward {word['toward']}: +{word['weight']:.1%}" if word["toward"] else ""
        # At most 150/255: the theme's text keeps 4.5:1 on each class's tint, light or dark.
        spans.append(
            f'<span title="{html.escape(title)}" style="background-color: {color}'
            f"{int(alpha * 150):02x}; padding: 1px 3px; border-radius: 3px; "
            f'line-height: 1.9">{html.escape(word["word"])}</span>'
        )
    legend = " ".join(
        f'<span style="background-color: {color}99; padding: 1px 6px; border-radius: 3px">'
        f"{html.escape(label)}</span>"
        for label, color in colors.items()
    )
    return (
        f'<div data-testid="explanation" style="font-size: 1.05rem">{" ".join(spans)}</div>'
        f'<div style="margin-top: 0.5rem; font-size: 0.85rem">Words push toward: {legend}</div>'
    )


def reading_note(predictor: Predictor, text: str, typed: int) -> tuple[str | None, int | None]:
    """What was left unread of a text: cut to the box's limit, or past the model's input.

    Args:
        predictor: the model.
        text: the text classified (already cut to MAX_TEXT_CHARS).
        typed: the length of the text as typed or pasted.

    Returns:
        A warning to show (None when everything was read) and the number of words the model
        read whole (None when unknown).
    """
    notes = []
    if typed > len(text):
        notes.append(
            f"Classified the first {len(text):,} of {typed:,} characters: the Predict box "
            f"takes up to {config.MAX_TEXT_CHARS:,}."
        )
    read, total = predictor.words_read(text), len(text.split())
    if read is not None and read < total:
        counted = predictor.window.words_counted(text)
        notes.append(
            f"Only the first {read:,} of these {total:,} words were read in full, and nothing "
            f"after word {counted:,} counted: the model's input holds "
            f"{predictor.window.describe()}."
        )
    return (" ".join(notes) or None), read


def share_link(text: str) -> str:
    """The app's address with the text in its query, e.g. http://host:8501/?text=Great+night."""
    base = urlsplit(st.context.url or "")
    return f"{base.scheme}://{base.netloc}{base.path}?{urlencode({TEXT_PARAM: text})}"


def result_ui(predictor: Predictor, text: str, explain: bool = True, typed: int = 0) -> None:
    """The label with its probability, the probability chart and, if asked, the explanation
    (from the same forward pass: the text is the first row of the occlusion batch)."""
    note, read = reading_note(predictor, text, typed)
    if explain:
        covered = MAX_EXPLAINED_WORDS if read is None else min(read, MAX_EXPLAINED_WORDS)
        explanation = explain_by_occlusion(predictor, text, max_words=covered)
        probabilities, label = explanation["probabilities"], explanation["label"]
    else:
        prediction = predictor.predict([text])[0]
        probabilities, label = prediction["probabilities"], prediction["label"]
    log_once(predictor, text, probabilities)
    st.metric(
        "Predicted label",
        escape_markdown(label),  # labels come from the training data; a metric renders Markdown
        f"{probabilities[label]:.1%} probability",
        delta_color="off",
        delta_arrow="off",
    )
    frame = pd.DataFrame(
        {"label": list(probabilities), "probability": list(probabilities.values())}
    )
    if note:
        st.warning(note)
    st.vega_lite_chart(frame, probability_spec(probabilities), width="stretch")
    if explain:
        st.markdown("**Why:** each word is removed in turn; its tint shows the class it supports.")
        words = len(explanation["words"])
        if covered < words:
            st.caption(
                f"The explanation covers the first {covered:,} of {words:,} words"
                + (" (those the model reads)." if read is not None and covered == read else ".")
            )
        st.html(explanation_html(explanation, predictor.labels))
    else:
        st.caption("Turn on **Explain the words** and press Predict to see which words drove it.")
    st.caption(
        f"This model learned from {escape_markdown(data_scope(predictor.metadata.get('data', {})))}"
        ". Texts unlike those (other topics, other languages, sarcasm) are outside what it "
        "learned, and its answer on them is a guess."
    )
    with st.expander("Share this prediction"):
        st.caption("This link opens the dashboard on the same text and its result:")
        st.code(share_link(text), language=None, wrap_lines=True)
    feedback_ui(predictor, text, label)


def feedback_ui(predictor: Predictor, text: str, predicted: str) -> None:
    """Mark the prediction as wrong and give the right label; stored for retraining."""
    with st.expander("Wrong? Give the right label"):
        others = [label for label in predictor.labels if label != predicted]
        correct = st.radio(
            "The right label",
            others,
            key="feedback_label",
            horizontal=True,
            format_func=escape_markdown,  # radio options render Markdown
        )
        if st.button("Save feedback", key="feedback_save"):
            given = st.session_state.get(FEEDBACK_COUNT_KEY, 0)
            cap = config.limit("FEEDBACK_ROWS_PER_SESSION")
            if given >= cap:
                st.warning(f"Thanks: this session has given {cap} corrections, the most it can.")
                return
            try:
                record_feedback(text, predicted, correct, predictor.version)
                st.session_state[FEEDBACK_COUNT_KEY] = given + 1
                st.success("Thanks: saved to the feedback file. The Retrain tab can use it.")
            except SentimentError as exc:
                show_error(exc)


def shared_text_ui() -> None:
    """Open on the text of a shared link (`?text=...`), once per link."""
    shared = st.query_params.get(TEXT_PARAM)
    if shared and st.session_state.get(SHARED_KEY) != shared:
        st.session_state[SHARED_KEY] = shared
        st.session_state["predict_text"] = shared
        st.session_state["prediction_text"] = shared
        st.session_state[SUBMISSION_KEY] = st.session_state.get(SUBMISSION_KEY, 0) + 1


def log_once(predictor: Predictor, text: str, probabilities: dict[str, float]) -> None:
    """Append the answer to the prediction log (when it is on), once per submitted text."""
    key = (predictor.version, st.session_state.get(SUBMISSION_KEY, 0))
    if st.session_state.get(LOGGED_KEY) != key:
        row = [[probabilities[label] for label in predictor.labels]]
        log_predictions([text], row, predictor.labels, predictor.version, "dashboard")
        st.session_state[LOGGED_KEY] = key


def submit(text: str) -> None:
    """Keep a submitted text for the result and in the page's address."""
    st.session_state[SUBMISSION_KEY] = st.session_state.get(SUBMISSION_KEY, 0) + 1
    st.session_state["prediction_text"] = text
    shared = cut_text(text, config.MAX_TEXT_CHARS)
    st.session_state[SHARED_KEY] = shared
    st.query_params[TEXT_PARAM] = shared


@st.fragment
def predict_ui(predictor: Predictor) -> None:
    """The whole Predict tab, as a fragment: a click here reruns this tab, not all five."""
    shared_text_ui()
    examples_ui()
    explain_default = explains_at_once(predictor.metadata.get("architecture"))
    submitted = input_ui(explain_default)
    if submitted is not None:
        if not submitted.strip():
            st.session_state.pop("prediction_text", None)
            st.query_params.pop(TEXT_PARAM, None)
            st.warning("Type a text to classify.")
            return
        submit(submitted)
    typed = st.session_state.get("prediction_text")
    if typed:
        explain = st.session_state[EXPLAIN_KEYS[explain_default]]
        text = cut_text(typed, config.MAX_TEXT_CHARS)
        result_ui(predictor, text, explain, typed=len(typed))
