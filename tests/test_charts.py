"""The charts' Vega-Lite specs: ticks a person reads at a glance, text that shows on a light
and on a dark page, and colours that tell the series apart."""

import colorsys

import pandas as pd
import pytest

from ui.charts import (
    HEATMAP_AXES_PX,
    SERIES_COLORS,
    confusion_heatmap,
    count_chart,
    probability_spec,
)
from ui.compare_view import class_chart, curves_chart

LABELS = ["negative", "neutral", "positive"]
VERSIONS = ["20261203-164628-23a5", "20261124-045621-f051", "20261207-114121-e41e",
            "20261207-114132-2b96"]  # fmt: skip


def layers(spec: dict, mark: str) -> list[dict]:
    """The layers of a layered spec that draw this mark."""
    return [layer for layer in spec["layer"] if _mark(layer) == mark]


def _mark(layer: dict) -> str:
    return layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]


def themed(layer: dict) -> bool:
    """Whether a text layer's colour follows the page's background (Vega's `background`)."""
    color = layer["mark"].get("color")
    return isinstance(color, dict) and "background" in color.get("expr", "")


def test_the_probability_axis_has_a_few_round_ticks_and_text_for_either_theme():
    spec = probability_spec({"negative": 0.1, "neutral": 0.7, "positive": 0.2})
    (bars,) = layers(spec, "bar")
    assert bars["encoding"]["x"]["axis"]["values"] == [0, 0.25, 0.5, 0.75, 1]
    assert bars["encoding"]["x"]["axis"]["format"] == "%"
    (text,) = layers(spec, "text")
    assert themed(text)  # black figures vanished on the dark page


@pytest.mark.parametrize("counts", [[1, 0, 2], [3, 1, 0], [235, 233, 232]])
def test_count_axes_tick_whole_numbers_and_the_counts_show_on_either_theme(counts):
    chart = count_chart(pd.Series(counts, index=LABELS), LABELS, "Predicted labels")
    spec = chart.to_dict()
    (bars,) = layers(spec, "bar")
    axis = bars["encoding"]["x"]["axis"]
    assert axis["tickMinStep"] == 1 and axis["format"] == "d"  # no 0.2, 0.4... rows
    (text,) = layers(spec, "text")
    assert themed(text)


def test_the_confusion_heatmap_has_tall_rows_and_horizontal_labels():
    matrix = [[989, 152, 72], [161, 226, 62], [77, 56, 187]]
    spec = confusion_heatmap(matrix, LABELS, "Confusion matrix").to_dict()
    for layer in spec["layer"]:
        assert layer["encoding"]["x"]["axis"]["labelAngle"] == 0
    row_height = (spec["height"] - HEATMAP_AXES_PX) / len(LABELS)
    assert row_height >= 48
    (text,) = layers(spec, "text")
    # The count's colour comes from its cell's colour (black on light blue, white on dark),
    # never from a cut at half the largest count, which put white on mid blues.
    assert "scale('color', datum.rows)" in text["mark"]["color"]["expr"]


def hue(color: str) -> float:
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(red, green, blue)[0] * 360


def test_each_compared_version_has_its_own_hue_in_both_charts():
    curves = pd.DataFrame(
        [
            {"version": v, "metric": m, "part": p, "epoch": e, "value": 0.5 + e / 10}
            for v in VERSIONS
            for m in ("accuracy", "loss")
            for p in ("train", "validation")
            for e in (1, 2)
        ]
    )
    figures = pd.DataFrame(
        [
            {"version": v, "class": c, "metric": m, "value": 0.6}
            for v in VERSIONS
            for c in LABELS
            for m in ("precision", "recall", "f1")
        ]
    )
    lines = curves_chart(curves, VERSIONS).to_dict()["spec"]
    bars = class_chart(figures, VERSIONS).to_dict()
    scales = [layer["encoding"]["color"]["scale"] for layer in lines["layer"]]
    scales.append(bars["encoding"]["color"]["scale"])
    for scale in scales:  # the same version in the same colour everywhere
        assert scale == {"domain": VERSIONS, "range": SERIES_COLORS[: len(VERSIONS)]}
    hues = [hue(color) for color in scales[0]["range"]]
    gaps = [min(abs(a - b), 360 - abs(a - b)) for i, a in enumerate(hues) for b in hues[i + 1 :]]
    assert min(gaps) >= 60  # not two blues


def test_the_train_and_validation_legend_shows_a_solid_and_a_dashed_line():
    curves = pd.DataFrame(
        [
            {"version": VERSIONS[0], "metric": "loss", "part": p, "epoch": e, "value": 1 / e}
            for p in ("train", "validation")
            for e in (1, 2, 3)
        ]
    )
    spec = curves_chart(curves, VERSIONS[:1]).to_dict()["spec"]
    (line,) = layers(spec, "line")
    legend = line["encoding"]["strokeDash"]["legend"]
    assert legend["symbolType"] == "stroke" and legend["symbolStrokeColor"]
    # Points on the dashed lines made the legend two equal dots: they are a layer of their own.
    assert isinstance(line["mark"], str) or not line["mark"].get("point")
    (points,) = layers(spec, "point")
    assert "strokeDash" not in points["encoding"]


def test_the_retrain_curves_draw_each_part_in_its_own_hue():
    from ui.job_view import curves_chart as live_curves

    history = [
        {"epoch": e, "loss": 1 / e, "val_loss": 1.1 / e, "accuracy": 0.5, "val_accuracy": 0.5}
        for e in (1, 2)
    ] + [{"epoch": 1, "loss": 0.4, "accuracy": 0.8, "refit": True}]
    scale = live_curves(history).to_dict()["spec"]["encoding"]["color"]["scale"]
    assert scale["domain"] == ["train", "validation", "refit: train + validation"]
    hues = [hue(color) for color in scale["range"]]
    gaps = [min(abs(a - b), 360 - abs(a - b)) for i, a in enumerate(hues) for b in hues[i + 1 :]]
    assert min(gaps) >= 60  # not two blues
