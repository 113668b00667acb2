"""Calibration of one version (Models tab): the reliability diagram and the ECE, before and
after temperature scaling, as recorded in its metadata (pipeline.calibration)."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline.analysis.predictions import prob_column
from pipeline.calibration import ece_of_bins, encode, reliability_bins
from pipeline.errors import SentimentError
from pipeline.registry import Registry
from ui.analysis_view import cached_predictions
from ui.common import show_error

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


def reliability_chart(frame: pd.DataFrame) -> alt.Chart:
    """Accuracy against mean confidence per bin, with the diagonal of perfect calibration."""
    unit = alt.Scale(domain=[0, 1])
    diagonal = (
        alt.Chart(pd.DataFrame({"mean confidence": [0, 1], "accuracy": [0, 1]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="mean confidence:Q", y="accuracy:Q")
    )
    curves = (
        alt.Chart(frame, title="Reliability diagram (test part)")
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
def bins_from_predictions(root: str, version: str) -> list[dict] | None:
    """The test reliability diagram of a version from its saved test predictions, or None."""
    predictions = cached_predictions(root, version)
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


def calibration_ui(registry: Registry, version: str) -> None:
    """The reliability diagram and the ECE of one version's test part.

    Read from the metadata's `calibration`; for a version saved before that was recorded,
    computed from its saved test predictions, if it has them.

    Args:
        registry: the registry.
        version: the version shown.
    """
    calibration = registry.metadata(version).get("calibration")
    if calibration:
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
    st.altair_chart(reliability_chart(diagram_frame(curves)), width="stretch")
    st.caption(
        "Each point is a bin of texts by the model's top probability: how often it was right "
        "(accuracy) against how sure it was (mean confidence). On the dashed diagonal, "
        "a predicted 80 % comes true 80 % of the time. ECE is the texts-weighted mean gap."
    )
