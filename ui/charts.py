"""Altair charts. Each class keeps one colour everywhere in the app."""

import functools

import altair as alt
import pandas as pd

KNOWN_COLORS = {"negative": "#d1495b", "neutral": "#8d99ae", "positive": "#2a9d8f"}
PALETTE = ["#edae49", "#00798c", "#6a4c93", "#3d5a80", "#e07a5f", "#81b29a", "#f2cc8f"]


def label_colors(labels: list[str]) -> dict[str, str]:
    """A colour per label: fixed ones for negative / neutral / positive, a palette otherwise."""
    others = iter(PALETTE * (len(labels) // len(PALETTE) + 1))
    return {label: KNOWN_COLORS.get(label) or next(others) for label in labels}


def color_encoding(labels: list[str], field: str = "label", legend: bool = False) -> alt.Color:
    """The colour channel that maps each label to its colour."""
    colors = label_colors(labels)
    scale = alt.Scale(domain=list(colors), range=list(colors.values()))
    return alt.Color(f"{field}:N", scale=scale, legend=alt.Legend() if legend else None)


def probability_spec(probabilities: dict[str, float]) -> dict:
    """The Vega-Lite spec (without data) of horizontal bars of every class's probability,
    largest first, labelled in percent.

    Altair builds and validates it once per label set and order, and every prediction
    reuses it (st.vega_lite_chart with the new probabilities): validating a new Altair
    chart per prediction was the Predict tab's largest cost under load (bench/load.py).
    """
    ranked = sorted(probabilities, key=probabilities.get, reverse=True)
    return _probability_spec(tuple(probabilities), tuple(ranked))


@functools.lru_cache(maxsize=64)
def _probability_spec(labels: tuple[str, ...], ranked: tuple[str, ...]) -> dict:
    frame = pd.DataFrame({"label": list(labels), "probability": 0.0})
    base = alt.Chart(frame).encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        y=alt.Y("label:N", sort=list(ranked), title=None),
    )
    bars = base.mark_bar().encode(
        color=color_encoding(list(labels)), tooltip=["label", "probability"]
    )
    text = base.mark_text(align="left", dx=4).encode(text=alt.Text("probability:Q", format=".1%"))
    spec = (bars + text).properties(height=40 * len(labels) + 20).to_dict()
    for key in ("data", "datasets"):
        spec.pop(key, None)
    return spec


def count_chart(counts: pd.Series, labels: list[str], title: str) -> alt.Chart:
    """Bars of how many rows each label has, with the count on each bar."""
    frame = pd.DataFrame({"label": counts.index, "rows": counts.to_numpy()})
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("rows:Q", title="rows"), y=alt.Y("label:N", sort=labels, title=None)
    )
    bars = base.mark_bar().encode(color=color_encoding(labels), tooltip=["label", "rows"])
    return (bars + base.mark_text(align="left", dx=4).encode(text="rows:Q")).properties(
        height=50 * len(labels) + 40
    )


def length_histogram(lengths: pd.Series) -> alt.Chart:
    """Distribution of text lengths in characters."""
    frame = pd.DataFrame({"characters": lengths.to_numpy()})
    return (
        alt.Chart(frame, title="Text length")
        .mark_bar()
        .encode(
            x=alt.X("characters:Q", bin=alt.Bin(maxbins=40), title="characters"),
            y=alt.Y("count():Q", title="rows"),
        )
        .properties(height=220)
    )


def confusion_heatmap(matrix: list[list[int]], labels: list[str], title: str = "") -> alt.Chart:
    """A confusion-matrix heatmap: true label down, predicted label across, counts in cells."""
    frame = pd.DataFrame(
        [
            {"true": true, "predicted": predicted, "rows": matrix[i][j]}
            for i, true in enumerate(labels)
            for j, predicted in enumerate(labels)
        ]
    )
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("predicted:N", sort=labels), y=alt.Y("true:N", sort=labels)
    )
    cells = base.mark_rect().encode(
        color=alt.Color("rows:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["true", "predicted", "rows"],
    )
    midpoint = frame["rows"].max() / 2
    text = base.mark_text().encode(
        text="rows:Q",
        color=alt.condition(alt.datum.rows > midpoint, alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(height=60 * len(labels) + 40)
