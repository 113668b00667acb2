"""Predict tab: one text in, the label, every class's probability and a word explanation
(at once for the fast models, on request for the transformer ones)."""

import html

import pandas as pd
import streamlit as st

from pipeline import config
from pipeline.errors import SentimentError
from pipeline.explain import explain_by_occlusion, explained_unasked
from pipeline.feedback import record_feedback
from pipeline.predict import Predictor
from ui.charts import label_colors, probability_spec
from ui.common import escape_markdown, show_error

FEEDBACK_COUNT_KEY = "feedback_given"
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
        text = st.text_area(
            "Text to classify",
            max_chars=config.MAX_TEXT_CHARS,
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


def result_ui(predictor: Predictor, text: str, explain: bool = True) -> None:
    """The label with its probability, the probability chart and, if asked, the explanation
    (from the same forward pass: the text is the first row of the occlusion batch)."""
    if explain:
        explanation = explain_by_occlusion(predictor, text)
        probabilities, label = explanation["probabilities"], explanation["label"]
    else:
        prediction = predictor.predict([text])[0]
        probabilities, label = prediction["probabilities"], prediction["label"]
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
    st.vega_lite_chart(frame, probability_spec(probabilities), width="stretch")
    if explain:
        st.markdown("**Why:** each word is removed in turn; its tint shows the class it supports.")
        st.html(explanation_html(explanation, predictor.labels))
    else:
        st.caption("Turn on **Explain the words** and press Predict to see which words drove it.")
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


@st.fragment
def predict_ui(predictor: Predictor) -> None:
    """The whole Predict tab, as a fragment: a click here reruns this tab, not all five."""
    examples_ui()
    explain_default = explained_unasked(predictor.metadata.get("architecture"))
    submitted = input_ui(explain_default)
    if submitted is not None:
        if not submitted.strip():
            st.session_state.pop("prediction_text", None)
            st.warning("Type a text to classify.")
            return
        st.session_state["prediction_text"] = submitted
    if st.session_state.get("prediction_text"):
        explain = st.session_state[EXPLAIN_KEYS[explain_default]]
        result_ui(predictor, st.session_state["prediction_text"], explain)
