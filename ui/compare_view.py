"""Compare runs (Models tab): learning curves and per-class metrics of any versions in one
chart each, the parameter and data differences of two, and the test texts one gets right
and the other wrong."""

import altair as alt
import pandas as pd
import streamlit as st

from pipeline.analysis.compare import (
    class_metrics_frame,
    differences,
    disagreements,
    learning_curves_frame,
)
from pipeline.registry import Registry
from ui.analysis_view import cached_predictions
from ui.charts import LEGEND_GREY, series_color
from ui.common import escape_markdown


def curves_chart(curves: pd.DataFrame, versions: list[str]) -> alt.Chart:
    """Every chosen version's per-epoch loss and accuracy, train solid, validation dashed.

    Args:
        curves: learning_curves_frame of the versions.
        versions: the chosen versions, which give out the colours (as class_chart does).
    """
    base = alt.Chart(curves).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=None),
        color=series_color(versions, "version", symbolType="stroke", symbolStrokeWidth=3),
        tooltip=["version", "metric", "part", "epoch", alt.Tooltip("value:Q", format=".4f")],
    )
    # The legend of parts draws a line of each dash pattern in a grey that shows on a light
    # and a dark page. The points are a layer of their own: points on the dashed lines would
    # make that legend two equal dots.
    lines = base.mark_line().encode(
        strokeDash=alt.StrokeDash(
            "part:N",
            sort=["train", "validation"],
            legend=alt.Legend(
                symbolType="stroke", symbolStrokeColor=LEGEND_GREY, symbolStrokeWidth=2
            ),
        )
    )
    points = base.mark_point(filled=True, size=30)
    return (
        alt.layer(lines, points)
        .properties(width=320, height=220)
        .facet(column=alt.Column("metric:N", title=None))
        .resolve_scale(y="independent")
    )


def class_chart(figures: pd.DataFrame, versions: list[str]) -> alt.Chart:
    """Each version's test precision, recall and F1 per class, side by side.

    Args:
        figures: class_metrics_frame of the versions.
        versions: the chosen versions, which give out the colours (as curves_chart does).
    """
    return (
        alt.Chart(figures)
        .mark_bar()
        .encode(
            x=alt.X("version:N", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
            color=series_color(versions, "version"),
            column=alt.Column("class:N", title=None),
            row=alt.Row("metric:N", title=None),
            tooltip=["version", "class", "metric", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(width=110, height=110)
    )


def overlay_ui(registry: Registry, versions: list[str], metadata: dict[str, dict]) -> list[str]:
    """Choose versions; overlay their learning curves and per-class metrics."""
    chosen = st.multiselect(
        "Versions to compare", versions, default=versions[:2], key="compare_versions"
    )
    if not chosen:
        st.caption("Choose one or more versions.")
        return chosen
    curves = learning_curves_frame({v: metadata[v] for v in chosen})
    if curves.empty:
        st.caption("None of these versions recorded per-epoch figures.")
    else:
        st.altair_chart(curves_chart(curves, chosen), key="compare_curves")
    figures = class_metrics_frame({v: metadata[v] for v in chosen})
    st.altair_chart(class_chart(figures, chosen), key="compare_classes")
    return chosen


def pair_ui(registry: Registry, versions: list[str], metadata: dict[str, dict]) -> None:
    """Two versions: what differs in parameters and data, and which texts each gets right."""
    left, right = st.columns(2)
    first = left.selectbox("Version A", versions, index=0, key="compare_a")
    second = right.selectbox("Version B", versions, index=min(1, len(versions) - 1),
                             key="compare_b")  # fmt: skip
    diff = differences(metadata[first], metadata[second])
    if diff.empty:
        st.caption("Same parameters and data.")
    else:
        st.dataframe(diff.rename(columns={"a": first, "b": second}), width="stretch",
                     hide_index=True, key="compare_diff")  # fmt: skip
    root = str(registry.root)
    a, b = cached_predictions(root, first), cached_predictions(root, second)
    if a is None or b is None:
        st.caption(
            "Which texts each gets right needs both versions' test predictions (a version "
            "saved before they were kept can compute them in Error analysis)."
        )
        return
    result = disagreements(a, b)
    if result["note"]:
        st.caption(escape_markdown(result["note"]))
    columns = st.columns(2)
    for column, (title, rows) in zip(
        columns,
        ((f"Right by A ({first}), wrong by B", result["only_a"]),
         (f"Right by B ({second}), wrong by A", result["only_b"])),
        strict=True,
    ):  # fmt: skip
        column.markdown(f"**{title}: {len(rows)}**")
        column.dataframe(rows, width="stretch", hide_index=True)


def compare_ui(registry: Registry, versions: list[str]) -> None:
    """The Compare runs section."""
    metadata = {version: registry.metadata(version) for version in versions}
    overlay_ui(registry, versions, metadata)
    st.markdown("**Two versions**")
    pair_ui(registry, versions, metadata)
