"""Streamlit dashboard over the sentiment model.

The page only lays out widgets; everything else is in pipeline/ (models, data, scoring)
and ui/ (one module per tab).
"""

import streamlit as st

from pipeline.errors import SentimentError
from ui.batch_tab import batch_ui
from ui.common import escape_markdown, get_predictor, get_registry, keep_keras_state
from ui.data_tab import data_ui
from ui.guard import admin_ui
from ui.label_tab import label_ui
from ui.models_tab import models_ui
from ui.monitor_tab import monitor_ui
from ui.predict_tab import predict_ui
from ui.retrain_tab import retrain_ui

# On a phone the header is compact: a smaller title, and the four figures two to a line in a
# smaller type, so the Predict text box is on the first screen. `st-key-<key>` is the class
# Streamlit gives a keyed container.
HEADER_CSS = """<style>
@media (max-width: 640px) {
  .st-key-header h1 { font-size: 2rem; padding-top: 0; }
  .st-key-header_metrics { gap: 0.25rem 1.5rem; }
  .st-key-header_metrics [data-testid="stMetricValue"] { font-size: 1.5rem; }
}
</style>"""


def version_ui(registry, default: str) -> str:
    """The sidebar's version choice; it defaults to the active version when that is healthy.

    A session that has not picked another version follows the active one: a promotion made
    anywhere (another replica, train.py) shows on its next rerun.
    """
    versions = registry.versions()
    active = registry.active_version()
    followed = st.session_state.get("version_followed")
    if st.session_state.get("version") in (None, followed) and default != followed:
        st.session_state["version"] = default
    if st.session_state.get("version") not in versions:
        st.session_state["version"] = default  # deleted elsewhere
    st.session_state["version_followed"] = default
    return st.sidebar.selectbox(
        "Model version",
        versions,
        key="version",  # its value is set above, so no index
        format_func=lambda v: f"{v} (active)" if v == active else v,
    )


def header_ui(predictor) -> None:
    """Title, description, and a summary of the model in use: four figures side by side, each
    as wide as it needs (the model's name is never cut), that wrap on a narrow screen."""
    meta = predictor.metadata
    metrics, data = meta.get("metrics", {}), meta.get("data", {})
    st.html(HEADER_CSS)
    with st.container(key="header"):
        st.title("Tweet sentiment")
        st.caption(
            "Classify tweets as negative, neutral or positive with a Keras model, score files "
            "in bulk, explore the data, compare model versions and retrain."
        )
        with st.container(horizontal=True, gap="large", key="header_metrics"):
            architecture, version = meta.get("architecture", "?"), meta["version"]
            st.metric("Model", architecture, version, "off", delta_arrow="off", width="content")
            for label, name in (("Test accuracy", "accuracy"), ("Test macro-F1", "macro_f1")):
                st.metric(label, f"{metrics.get(name, float('nan')):.3f}", width="content")
            st.metric("Training rows", f"{data.get('rows_used', 0):,}", width="content")
        st.caption(
            f"Trained on {escape_markdown(data.get('name', '?'))} "
            f"(SHA-256 {data.get('sha256', '?')[:12]}…) on {meta.get('created', '?')[:10]}."
        )


def main() -> None:
    st.set_page_config(page_title="Tweet sentiment", page_icon="💬", layout="wide")
    keep_keras_state()
    registry = get_registry()
    if not registry.versions():
        st.title("Tweet sentiment")
        st.info(
            f"No model in {registry.root}. Train one with: python train.py --data data/sample.csv"
        )
        st.stop()
    default = registry.healthy_default()
    if registry.unavailable:
        st.warning(
            f"{registry.unavailable} Serving the versions cached on this machine; saving, "
            "promoting and deleting wait until the store is back."
        )
    if default is None:
        st.title("Tweet sentiment")
        st.error(f"Every model in {registry.root} is broken. Train a new one with train.py.")
        st.stop()
    active = registry.active_version()
    if active is not None and active != default:
        st.warning(
            f"The active version {active} cannot be loaded ({registry.problem(active)}); "
            f"the app is using {default}, the newest healthy version, instead."
        )
    version = version_ui(registry, default)
    admin_ui()
    try:
        predictor = get_predictor(str(registry.root), version)
    except SentimentError as exc:
        st.error(f"{exc} Showing {default} instead.")
        predictor = get_predictor(str(registry.root), default)
    header_ui(predictor)
    # The tabs know which one is open (a switch reruns the app), so the Label tab binds its
    # keyboard shortcuts only while it is open: Streamlit keeps hidden tabs mounted, and a
    # key pressed on another tab would otherwise give a label unseen.
    names = ["Predict", "Batch", "Data", "Models", "Retrain", "Label", "Monitor"]
    tabs = st.tabs(names, key="tab", on_change="rerun")
    predict_tab, batch_tab, data_tab, models_tab, retrain_tab, label_tab, monitor_tab = tabs
    with predict_tab:
        predict_ui(predictor)
    with batch_tab:
        batch_ui(predictor)
    with data_tab:
        data_ui()
    with models_tab:
        models_ui(registry)
    # The Label tab runs before the Retrain tab, which it sits after: a training started
    # there shows in the Retrain tab in the same run.
    with label_tab:
        label_ui(registry, predictor, shortcuts=bool(label_tab.open))
    with retrain_tab:
        retrain_ui(registry)
    with monitor_tab:
        monitor_ui(registry, predictor.version, is_open=bool(monitor_tab.open))


main()
