"""Streamlit dashboard over the sentiment model: type a text, see every class's probability."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline import SentimentError, config, load_predictor

MAX_TEXT_CHARS = 1000


@st.cache_resource(show_spinner="Loading the model...")
def get_predictor(models_dir: str, version: str | None):
    """Load a model version once per process; every prediction reuses it."""
    return load_predictor(models_dir, version)


def probability_chart(probabilities: dict[str, float]) -> alt.Chart:
    """A horizontal bar per class, sorted, labelled with percentages."""
    frame = pd.DataFrame(
        {"label": list(probabilities), "probability": list(probabilities.values())}
    )
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            y=alt.Y("label:N", sort="-x", title=None),
            color=alt.Color("label:N", legend=None),
        )
    )
    text = bars.mark_text(align="left", dx=4).encode(text=alt.Text("probability:Q", format=".1%"))
    return bars + text


def predict_ui(predictor) -> None:
    """The text box and the result."""
    with st.form("predict"):
        text = st.text_area("Text", max_chars=MAX_TEXT_CHARS, key="predict_text")
        submitted = st.form_submit_button("Predict")
    if not submitted:
        return
    if not text.strip():
        st.warning("Type a text to classify.")
        return
    result = predictor.predict([text])[0]
    label = result["label"]
    st.metric("Predicted label", label, f"{result['probabilities'][label]:.1%}", delta_color="off")
    st.altair_chart(probability_chart(result["probabilities"]), use_container_width=True)


def main() -> None:
    st.set_page_config(page_title="Tweet sentiment", page_icon=":speech_balloon:")
    st.title("Tweet sentiment")
    st.caption("Classify a tweet as negative, neutral or positive with a Keras model.")
    try:
        predictor = get_predictor(str(config.models_dir()), None)
    except SentimentError as exc:
        st.info(str(exc))
        st.stop()
    st.caption(f"Model {predictor.version} ({predictor.metadata.get('architecture', '?')})")
    predict_ui(predictor)


main()
