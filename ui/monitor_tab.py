"""Monitor tab: the prediction log of a version over time, its recent windows against the
version's reference, a banner when one drifted, and one click to label the drifted texts."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline.analysis.evaluations import load_source_predictions, prediction_sources
from pipeline.csvfile import to_csv_bytes
from pipeline.errors import SentimentError
from pipeline.feedback import read_feedback
from pipeline.monitor.drift import MIN_WINDOW_TEXTS, check_drift
from pipeline.monitor.log import SETTING_ENV, log_location, log_mode, shared_log
from pipeline.monitor.timeline import timeline, version_rows, windows
from pipeline.registry import Registry
from pipeline.wording import percent, plural
from ui.charts import color_encoding
from ui.common import escape_markdown, show_error

# The Label tab's pool, when a drifted window was sent there: {"csv": bytes, "name": str}.
SENT_POOL_KEY = "monitor_sent_pool"
SENT_POOL = "Texts sent from the Monitor tab"
WINDOWS_SHOWN = 5
DEFAULT_WINDOW = 500
CHART_HEIGHT = 180


@st.cache_data(show_spinner="Reading the version's reference...", max_entries=4)
def cached_reference(models_dir: str, version: str, key: str) -> pd.DataFrame | None:
    """One prediction source of a version (its test part, or an evaluation): the texts the
    windows are compared with, whose true labels calibrate the accuracy estimate."""
    return load_source_predictions(Registry(models_dir), version, key)


def reference_ui(registry: Registry, version: str) -> pd.DataFrame | None:
    """Choose the reference among the version's prediction sources; the first is the
    default (its test part when at hand, else its newest evaluation)."""
    sources = {source.key: source for source in prediction_sources(registry, version)}
    if not sources:
        st.info(
            f"Version {version} has no reference to compare with: it was saved without its "
            "test predictions and has no evaluation. Evaluate it on a labelled CSV like the "
            "texts it should see (Models tab, or `python -m pipeline evaluate`)."
        )
        return None
    key = st.selectbox(
        "Reference",
        list(sources),
        format_func=lambda k: sources[k].title,
        key=f"monitor_reference_{version}",
        help="What the recent windows are compared with: texts like the ones the version "
        "should see, with true labels to calibrate the accuracy estimate.",
    )
    st.caption(escape_markdown(sources[key].about))
    return cached_reference(str(registry.root), version, key)


@st.cache_data(show_spinner="Checking the recent windows for drift...", max_entries=8)
def judged(reference: pd.DataFrame, calibration, window: pd.DataFrame, labels: list[str]) -> dict:
    return check_drift(reference, window, labels, calibration=calibration)


def setting_ui() -> bool:
    """Say whether the log is on; False when its setting is wrong."""
    try:
        mode = log_mode()
    except SentimentError as exc:
        show_error(exc)
        return False
    if mode == "off":
        st.info(
            f"The prediction log is off, so nothing new is recorded. To turn it on, set "
            f'`{SETTING_ENV} = "texts"` in the app\'s secrets or environment, or `"hashes"` to '
            "keep only each text's SHA-256 (the drift check then cannot read the texts)."
        )
    else:
        st.caption(
            f"The prediction log is on ({mode}): the Predict and Batch tabs and the REST API "
            "record each answer."
        )
    return True


def over_time_ui(rows: pd.DataFrame, labels: list[str], version: str, calibration) -> None:
    feedback = read_feedback()
    feedback = feedback[feedback["model_version"] == version]
    found = timeline(rows, labels, feedback, calibration)
    frame = found.frame
    st.caption(f"One point per {found.period}, {plural(len(rows), 'prediction')} in all.")
    base = alt.Chart(frame).encode(alt.X("start:T", title=None))
    volume = base.mark_bar().encode(
        alt.Y("texts:Q", title="predictions"), tooltip=["start:T", "texts:Q"]
    )
    shares = frame.melt(
        id_vars="start", value_vars=[f"share_{label}" for label in labels], var_name="label"
    )
    shares["label"] = shares["label"].str.removeprefix("share_")
    mix = (
        alt.Chart(shares)
        .mark_bar()
        .encode(
            alt.X("start:T", title=None),
            alt.Y("value:Q", title="label mix", stack="normalize", axis=alt.Axis(format="%")),
            color_encoding(labels, legend=True),
            tooltip=["start:T", "label:N", alt.Tooltip("value:Q", format=".1%")],
        )
    )
    quality = frame.melt(
        id_vars="start",
        value_vars=["mean_confidence", "estimated_accuracy", "feedback_rate"],
        var_name="figure",
    ).dropna()
    quality["figure"] = quality["figure"].map(
        {
            "mean_confidence": "mean confidence",
            "estimated_accuracy": "estimated accuracy",
            "feedback_rate": "feedback rate",
        }
    )
    lines = (
        alt.Chart(quality)
        .mark_line(point=True)
        .encode(
            alt.X("start:T", title=None),
            alt.Y("value:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            alt.Color("figure:N", legend=alt.Legend(title=None)),
            tooltip=["start:T", "figure:N", alt.Tooltip("value:Q", format=".1%")],
        )
    )
    left, right = st.columns(2)
    left.altair_chart(volume.properties(title="Volume", height=CHART_HEIGHT), width="stretch")
    right.altair_chart(mix.properties(title="Label mix", height=CHART_HEIGHT), width="stretch")
    st.altair_chart(
        lines.properties(
            title="Confidence, accuracy estimated without labels, feedback rate",
            height=CHART_HEIGHT,
        ),
        width="stretch",
    )
    if calibration is None:
        st.caption(
            "No accuracy estimate: this version has no test texts with labels to calibrate it."
        )


def send_to_label(window: pd.DataFrame, name: str) -> None:
    """Make the window's texts the Label tab's pool and open that tab."""
    columns = ["text", "time", "predicted", "confidence"]
    pool = window[columns].assign(time=window["time"].astype(str))
    st.session_state[SENT_POOL_KEY] = {"csv": to_csv_bytes(pool), "name": name}
    st.session_state["label_pool_source"] = SENT_POOL
    st.session_state["tab"] = "Label"


def window_name(window: pd.DataFrame) -> str:
    first, last = window["time"].min(), window["time"].max()
    return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"


def banner_ui(window: pd.DataFrame, found: dict, newest: bool) -> None:
    """The drift banner, with the words behind it and the button that sends the texts."""
    name = window_name(window)
    which = "The latest window" if newest else "An earlier window"
    reasons = " ".join(found["reasons"])
    st.error(f"**Drift.** {which} ({escape_markdown(name)}) drifted: {escape_markdown(reasons)}")
    words = found["text"].get("top_words") or []
    if words:
        st.markdown(
            "Words that give these texts away: "
            + ", ".join(f"`{escape_markdown(w['word'])}`" for w in words)
        )
    texts = window["text"].notna().sum()
    if texts == 0:
        st.caption("The log keeps only hashes of the texts, so there is nothing to label.")
        return
    st.button(
        f"Label these {plural(int(texts), 'text')} (send them to the Label tab's pool)",
        key="monitor_send",
        on_click=send_to_label,
        args=(window[window["text"].notna()], f"drifted window {name}"),
    )


def windows_ui(rows, reference, calibration, labels: list[str]) -> None:
    st.subheader("Recent windows against the reference")
    size = st.number_input(
        "Window size (texts)",
        min_value=MIN_WINDOW_TEXTS,
        value=max(MIN_WINDOW_TEXTS, DEFAULT_WINDOW),
        step=100,
        key="monitor_window",
        help=f"Drift is judged on at least {MIN_WINDOW_TEXTS:,} texts; fewer differ by chance.",
    )
    try:
        recent = windows(rows, int(size), WINDOWS_SHOWN)
    except SentimentError as exc:
        st.info(escape_markdown(str(exc)))
        return
    results = [judged(reference, calibration, window, labels) for window in recent]
    flagged = next((i for i, found in enumerate(results) if found["drift"]), None)
    if flagged is not None:
        banner_ui(recent[flagged], results[flagged], newest=flagged == 0)
    else:
        latest = "the latest window" if len(recent) == 1 else f"the last {len(recent)} windows"
        st.success(f"No drift in {latest}.")
    table = pd.DataFrame(
        [
            {
                "window": window_name(window),
                "texts": len(window),
                "drift": "yes" if found["drift"] else "no",
                "label mix JS": found["label_mix"]["jensen_shannon"],
                "confidence KS": found["confidence"]["ks_statistic"],
                "texts AUC": found["text"].get("roc_auc"),
                "est. accuracy": found["estimated_accuracy"].get("estimated"),
            }
            for window, found in zip(recent, results, strict=True)
        ]
    )
    figures = ["label mix JS", "confidence KS", "texts AUC", "est. accuracy"]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={name: st.column_config.NumberColumn(format="%.3f") for name in figures},
    )
    limits = results[0]
    for finding in ("text", "estimated_accuracy"):
        if "skipped" in limits[finding]:
            st.caption(escape_markdown(limits[finding]["skipped"].capitalize()))
    st.caption(
        "Drift when the label mix's distance passes "
        f"{limits['label_mix']['threshold']}, the confidence's KS statistic passes "
        f"{limits['confidence']['threshold']}, the texts' ROC AUC passes "
        f"{limits['text'].get('threshold', 'its threshold')}, or the estimated accuracy falls "
        f"more than {percent(limits['estimated_accuracy'].get('threshold', 0.05))} below the "
        "reference's (docs: Monitoring)."
    )


def monitor_ui(registry: Registry, default_version: str, is_open: bool) -> None:
    """The whole Monitor tab; it reads the log only while it is open."""
    if not is_open:
        return
    if not setting_ui():
        return
    log = shared_log(log_location(str(registry.root)))
    try:
        records = log.read()
    except SentimentError as exc:
        show_error(exc)
        return
    if records.empty:
        st.info("No prediction is logged yet.")
        return
    if records.attrs.get("unreadable"):
        st.warning(
            f"{plural(records.attrs['unreadable'], 'line')} of the log could not be read "
            "(a write cut short) and were left out."
        )
    logged = list(dict.fromkeys(records["version"].iloc[::-1]))  # the most recent first
    index = logged.index(default_version) if default_version in logged else 0
    version = st.selectbox("Version", logged, index=index, key="monitor_version")
    if version not in registry.versions():
        st.warning(f"Version {version} is no longer in the registry; its log is kept.")
        return
    labels = registry.metadata(version)["labels"]
    try:
        rows = version_rows(records, version, labels)
        reference = reference_ui(registry, version)
    except SentimentError as exc:
        show_error(exc)
        return
    calibration = reference  # its true labels calibrate the accuracy estimate
    st.download_button(
        "Download this version's log (CSV)",
        to_csv_bytes(records[records["version"] == version]),
        file_name=f"prediction-log-{version}.csv",
        mime="text/csv",
        help="`python -m pipeline drift --version V --current FILE` checks it from a shell.",
    )
    over_time_ui(rows, labels, version, calibration)
    if reference is not None:
        windows_ui(rows, reference, calibration, labels)
