"""Altair charts. Each class keeps one colour everywhere in the app.

Every chart reads in the light and the dark theme: Streamlit colours the axes, legends and
titles for the theme, and text drawn on the page itself (the figures beside bars) takes its
colour from the page's background, which Streamlit passes to the chart.
"""

import functools

import altair as alt
import pandas as pd

KNOWN_COLORS = {"negative": "#d1495b", "neutral": "#8d99ae", "positive": "#2a9d8f"}
PALETTE = ["#edae49", "#00798c", "#6a4c93", "#3d5a80", "#e07a5f", "#81b29a", "#f2cc8f"]
# One colour per model version in the Compare runs charts: Tableau 10's (Vega's "tableau10"),
# ordered so that the first few differ most in hue, unlike Streamlit's default pair of blues.
SERIES_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b",
                 "#ff9da6", "#9d755d", "#bab0ac"]  # fmt: skip
# Text on the page's background: dark on a light page, light on a dark one. `background` is
# Vega's signal for the chart's background, which Streamlit sets to the theme's.
PAGE_TEXT = alt.ExprRef(expr="luminance(background) < 0.4 ? '#fafafa' : '#31333f'")
# Text on a heatmap cell: black on the light cells, white on the dark ones.
CELL_TEXT = alt.ExprRef(expr="luminance(scale('color', datum.rows)) > 0.18 ? 'black' : 'white'")
PERCENT_TICKS = [0, 0.25, 0.5, 0.75, 1]
# Legend symbols that stand for no colour of their own, legible on either page.
LEGEND_GREY = "#8d99ae"
# The confusion heatmap's height: each row this tall, plus the title and the axis above.
HEATMAP_ROW_PX = 56
HEATMAP_AXES_PX = 90


def label_colors(labels: list[str]) -> dict[str, str]:
    """A colour per label: fixed ones for negative / neutral / positive, a palette otherwise."""
    others = iter(PALETTE * (len(labels) // len(PALETTE) + 1))
    return {label: KNOWN_COLORS.get(label) or next(others) for label in labels}


def series_color(values: list[str], field: str, **legend) -> alt.Color:
    """The colour channel of one series per value (e.g. per version), each in its own hue.

    Args:
        values: the series, in the order their colours are given out.
        field: the column that names the series.
        legend: options of the legend (alt.Legend).

    Returns:
        The colour encoding.
    """
    colors = (SERIES_COLORS * (len(values) // len(SERIES_COLORS) + 1))[: len(values)]
    scale = alt.Scale(domain=list(values), range=colors)
    return alt.Color(f"{field}:N", scale=scale, legend=alt.Legend(**legend))


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
        x=alt.X(
            "probability:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%", values=PERCENT_TICKS),
        ),
        y=alt.Y("label:N", sort=list(ranked), title=None),
    )
    bars = base.mark_bar().encode(
        color=color_encoding(list(labels)), tooltip=["label", "probability"]
    )
    text = base.mark_text(align="left", dx=4, color=PAGE_TEXT).encode(
        text=alt.Text("probability:Q", format=".1%")
    )
    spec = (bars + text).properties(height=40 * len(labels) + 20).to_dict()
    for key in ("data", "datasets"):
        spec.pop(key, None)
    return spec


def count_chart(counts: pd.Series, labels: list[str], title: str) -> alt.Chart:
    """Bars of how many rows each label has, with the count on each bar."""
    frame = pd.DataFrame({"label": counts.index, "rows": counts.to_numpy()})
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("rows:Q", title="rows", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("label:N", sort=labels, title=None),
    )
    bars = base.mark_bar().encode(color=color_encoding(labels), tooltip=["label", "rows"])
    text = base.mark_text(align="left", dx=4, color=PAGE_TEXT).encode(text="rows:Q")
    return (bars + text).properties(height=50 * len(labels) + 40)


def length_histogram(lengths: pd.Series) -> alt.Chart:
    """Distribution of text lengths in characters."""
    frame = pd.DataFrame({"characters": lengths.to_numpy()})
    return (
        alt.Chart(frame, title="Text length")
        .mark_bar()
        .encode(
            x=alt.X("characters:Q", bin=alt.Bin(maxbins=40), title="characters"),
            y=alt.Y("count():Q", title="rows", axis=alt.Axis(tickMinStep=1, format="d")),
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
        x=alt.X("predicted:N", sort=labels, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:N", sort=labels),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("rows:Q", scale=alt.Scale(scheme="blues"), legend=None),
        tooltip=["true", "predicted", "rows"],
    )
    text = base.mark_text(fontSize=14, color=CELL_TEXT).encode(text="rows:Q")
    return (cells + text).properties(height=HEATMAP_ROW_PX * len(labels) + HEATMAP_AXES_PX)
