"""Calibration of one version (Models tab): the reliability diagram and the ECE, before and
after temperature scaling, as recorded in its metadata (pipeline.calibration), or on the
predictions of an evaluation stored beside it (pipeline.analysis.evaluations)."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline.analysis.evaluations import TEST_PART, PredictionSource
from pipeline.analysis.predictions import prob_column
from pipeline.calibration import ece_of_bins, encode, reliability_bins
from pipeline.errors import SentimentError
from pipeline.registry import Registry
from ui.analysis_view import cached_predictions
from ui.common import escape_markdown, show_error

BEFORE, AFTER, SAVED = "before scaling", "after scaling (saved)", "saved model"


def diagram_frame(curves: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per non-empty bin of each curve: its range, count, confidence and accuracy."""
    return pd.DataFrame(
        [
            {
                "curve": name,
                "bin": f"{b['low']:.1f}–{b['high']:.1f}",
                "texts": b["count"],
                "mean confidence": b["confidence"],
                "accuracy": b["accuracy"],
            }
            for name, bins in curves.items()
            for b in bins
            if b["count"]
        ]
    )


def reliability_chart(frame: pd.DataFrame, part: str = "test part") -> alt.Chart:
    """Accuracy against mean confidence per bin, with the diagonal of perfect calibration.

    Args:
        frame: see `diagram_frame`.
        part: the data the bins come from, for the title.
    """
    unit = alt.Scale(domain=[0, 1])
    diagonal = (
        alt.Chart(pd.DataFrame({"mean confidence": [0, 1], "accuracy": [0, 1]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="mean confidence:Q", y="accuracy:Q")
    )
    curves = (
        alt.Chart(frame, title=f"Reliability diagram ({part})")
        .mark_line(point=True)
        .encode(
            x=alt.X("mean confidence:Q", scale=unit, axis=alt.Axis(format="%")),
            y=alt.Y("accuracy:Q", scale=unit, axis=alt.Axis(format="%")),
            color=alt.Color("curve:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[
                "curve",
                "bin",
                "texts",
                alt.Tooltip("mean confidence:Q", format=".1%"),
                alt.Tooltip("accuracy:Q", format=".1%"),
            ],  # fmt: skip
        )
    )
    return (diagonal + curves).properties(height=320)


@st.cache_data(max_entries=16, show_spinner=False)
def bins_from_predictions(root: str, version: str, source: str = TEST_PART) -> list[dict] | None:
    """The reliability diagram of a version's saved test predictions, or of one of its
    evaluations; None without them."""
    predictions = cached_predictions(root, version, source)
    if predictions is None:
        return None
    labels = Registry(root).metadata(version)["labels"]
    probabilities = predictions[[prob_column(label) for label in labels]].to_numpy()
    return reliability_bins(probabilities, encode(predictions["label"], labels))


def recorded_ui(calibration: dict) -> dict[str, list[dict]]:
    """The ECE metrics and a caption from the metadata; returns the curves to draw."""
    before, validation = calibration["before"], calibration["validation"]
    columns = st.columns(3)
    columns[0].metric("Test ECE before scaling", f"{before['ece']:.3f}")
    columns[1].metric(
        "Test ECE after scaling",
        f"{calibration['ece']:.3f}",
        delta=f"{calibration['ece'] - before['ece']:+.3f}",
        delta_color="inverse",
    )
    columns[2].metric("Temperature", f"{calibration['temperature']:.2f}")
    fitted = calibration.get("fitted_temperature")
    if calibration["applied"]:
        st.caption(
            f"T = {calibration['temperature']:.2f} was fitted on the validation part and kept "
            f"inside the saved model: it lowered the validation ECE from "
            f"{validation['ece_before']:.3f} to {validation['ece_after']:.3f}. Every "
            "probability this version shows (Predict tab, batch scores, API) is scaled."
        )
        return {BEFORE: before["bins"], AFTER: calibration["bins"]}
    if fitted is None:
        st.caption(
            "No temperature was fitted: after the final refit the network had trained on the "
            "validation part."
        )
    else:
        st.caption(
            f"The fitted T = {fitted:.2f} did not lower the validation ECE "
            f"({validation['ece_before']:.3f} → {validation['ece_after']:.3f}), so the model "
            "was saved unscaled."
        )
    return {SAVED: calibration["bins"]}


def recorded_line(calibration: dict) -> str:
    """The test part's calibration recorded at training, in one sentence."""
    before = calibration["before"]["ece"]
    if not calibration["applied"]:
        return f"At training, on its test part: ECE {before:.3f} (no temperature kept)."
    return (
        f"At training, on its test part: ECE {before:.3f} before temperature scaling and "
        f"{calibration['ece']:.3f} after (T = {calibration['temperature']:.2f}, kept in the model)."
    )


def evaluation_ui(registry: Registry, version: str, source: PredictionSource) -> dict | None:
    """The ECE of an evaluation's predictions; returns the curve to draw, or None."""
    try:
        bins = bins_from_predictions(str(registry.root), version, source.key)
    except SentimentError as exc:
        show_error(exc)
        return None
    name = escape_markdown(source.name)
    st.metric("Evaluation ECE", f"{ece_of_bins(bins):.3f}")
    calibration = registry.metadata(version).get("calibration")
    recorded = f" {recorded_line(calibration)}" if calibration else ""
    st.caption(
        f"Measured on the predictions of the saved model (any temperature included) for "
        f"{name}, not on the version's test part.{recorded}"
    )
    return {SAVED: bins}


def calibration_ui(registry: Registry, version: str, source: PredictionSource | None) -> None:
    """The reliability diagram and the ECE of one version, on the predictions chosen.

    On the test part: read from the metadata's `calibration`, or, for a version saved
    before that was recorded, computed from its saved test predictions. On an evaluation:
    computed from its predictions.

    Args:
        registry: the registry.
        version: the version shown.
        source: the predictions chosen (ui.analysis_view.source_ui), or None.
    """
    calibration = registry.metadata(version).get("calibration")
    part = "test part"
    if source is not None and source.key != TEST_PART:
        curves = evaluation_ui(registry, version, source)
        if curves is None:
            return
        part = source.name
    elif calibration:
        curves = recorded_ui(calibration)
    else:
        try:
            bins = bins_from_predictions(str(registry.root), version)
        except SentimentError as exc:
            show_error(exc)
            return
        if bins is None:
            st.caption(
                f"Calibration was not recorded for version {version} (it was saved before "
                "calibration was measured, and has no saved test predictions)."
            )
            return
        st.metric("Test ECE", f"{ece_of_bins(bins):.3f}")
        st.caption(
            "Computed from the version's saved test predictions: it was saved before "
            "calibration was measured, so no temperature was fitted."
        )
        curves = {SAVED: bins}
    st.altair_chart(reliability_chart(diagram_frame(curves), part), width="stretch")
    st.caption(
        "Each point is a bin of texts by the model's top probability: how often it was right "
        "(accuracy) against how sure it was (mean confidence). On the dashed diagonal, "
        "a predicted 80 % comes true 80 % of the time. ECE is the texts-weighted mean gap."
    )
