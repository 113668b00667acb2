"""The reference page for bench/load.py: a form, a metric and one Altair chart over the same
predictor as the dashboard, and nothing else. The dashboard's throughput is measured
against this page's, so the ratio shows what the dashboard's own work costs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import altair as alt  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pipeline import config, load_predictor  # noqa: E402
from ui.common import keep_keras_state  # noqa: E402

keep_keras_state()  # as the dashboard does: it is Streamlit's cost, not the page's


@st.cache_resource
def predictor():
    return load_predictor(config.models_dir())


model = predictor()
with st.form("predict_form"):
    text = st.text_area("Text to classify")
    submitted = st.form_submit_button("Predict")
if submitted and text.strip():
    result = model.predict([text])[0]
    st.metric("Predicted label", result["label"])
    frame = pd.DataFrame(
        {"label": list(result["probabilities"]), "p": list(result["probabilities"].values())}
    )
    st.altair_chart(alt.Chart(frame).mark_bar().encode(x="p", y="label"))
