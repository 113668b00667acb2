"""Calibration: the ECE and reliability bins, temperature scaling, and the temperature kept
inside saved models (Keras, the NumPy path, the SavedModel export, the transformer serving
path) and shown in the Models tab."""

import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_export import TEXTS

from pipeline import config, load_predictor
from pipeline.analysis.predictions import PREDICTIONS_FILE, load_predictions, prob_column
from pipeline.calibration import (
    CONFIDENCE_BINS,
    choose_temperature,
    encode,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    scale_probabilities,
)
from pipeline.predict import load_numpy_model
from pipeline.registry import Registry

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
# Four texts: confidences 0.95, 0.95 (one right, one wrong), 0.65 (right), 0.75 (right).
HAND_MADE = np.array([[0.95, 0.05], [0.95, 0.05], [0.65, 0.35], [0.25, 0.75]])
HAND_MADE_Y = np.array([0, 1, 0, 1])


def test_bins_hold_range_count_confidence_and_accuracy_of_hand_made_cases():
    bins = reliability_bins(HAND_MADE, HAND_MADE_Y)
    assert len(bins) == CONFIDENCE_BINS
    assert [(b["low"], b["high"]) for b in bins[:2]] == [(0.0, 0.1), (0.1, 0.2)]
    assert bins[-1]["high"] == 1.0
    by_range = {(b["low"], b["high"]): b for b in bins if b["count"]}
    assert by_range[(0.9, 1.0)] == {
        "low": 0.9, "high": 1.0, "count": 2, "confidence": pytest.approx(0.95), "accuracy": 0.5
    }  # fmt: skip
    assert by_range[(0.6, 0.7)]["count"] == 1 and by_range[(0.6, 0.7)]["accuracy"] == 1.0
    assert by_range[(0.7, 0.8)]["confidence"] == pytest.approx(0.75)
    assert sum(b["count"] for b in bins) == 4
    assert all(b["confidence"] is None and b["accuracy"] is None for b in bins if not b["count"])


def test_ece_is_the_count_weighted_gap_between_accuracy_and_confidence():
    # (2 * |0.5 - 0.95| + |1 - 0.65| + |1 - 0.75|) / 4 = (0.9 + 0.35 + 0.25) / 4
    assert expected_calibration_error(HAND_MADE, HAND_MADE_Y) == pytest.approx(0.375)
    certain = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert expected_calibration_error(certain, [0, 2]) == 0.0  # 1.0 falls in the last bin
    assert expected_calibration_error(certain, [1, 1]) == 1.0


def test_scaling_keeps_the_top_class_and_sums_to_one():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype="float32")
    np.testing.assert_allclose(scale_probabilities(probabilities, 1.0), probabilities, atol=1e-7)
    for temperature in (0.3, 2.0, 10.0):
        scaled = scale_probabilities(probabilities, temperature)
        assert scaled.dtype == np.float32
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0, atol=1e-6)
        assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()
    assert (
        scale_probabilities(probabilities, 2.0)[0, 0]
        < 0.7
        < scale_probabilities(probabilities, 0.5)[0, 0]
    )


def overconfident(n: int, seed: int, sharpness: float = 2.5):
    """Labels drawn from softmax(z), reported as softmax(sharpness * z): over-confident."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, 3))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in true])
    reported = np.exp(sharpness * logits)
    return reported / reported.sum(axis=1, keepdims=True), y


def test_temperature_fit_lowers_nll_and_ece_of_an_overconfident_model():
    validation, y_validation = overconfident(3000, seed=0)
    test, y_test = overconfident(3000, seed=1)
    temperature = fit_temperature(validation, y_validation)
    assert 2.2 < temperature < 2.8  # the over-sharpening it undoes is 2.5
    assert negative_log_likelihood(validation, y_validation, temperature) < negative_log_likelihood(
        validation, y_validation
    )
    record = choose_temperature(validation, y_validation, test, y_test)
    assert record["applied"] and record["temperature"] == pytest.approx(temperature)
    assert record["validation"]["ece_after"] < record["validation"]["ece_before"]
    assert record["ece"] < 0.03 < 0.1 < record["before"]["ece"]  # measured on test
    assert record["validation"]["nll_after"] < record["validation"]["nll_before"]


def test_no_temperature_is_kept_when_it_does_not_lower_the_validation_ece():
    certain = np.array([[1.0, 0.0], [0.0, 1.0]] * 10)
    y = np.array([0, 1] * 10)
    record = choose_temperature(certain, y, certain, y)  # ECE is already 0
    assert not record["applied"] and record["temperature"] == 1.0
    assert record["fitted_temperature"] is not None
    assert record["ece"] == record["before"]["ece"] == 0.0
    skipped = choose_temperature(*overconfident(500, 0), *overconfident(500, 1), fit=False)
    assert not skipped["applied"] and skipped["fitted_temperature"] is None
    assert skipped["ece"] == skipped["before"]["ece"]


@pytest.fixture(scope="module")
def calibrated(tiny_models_dir) -> tuple[Registry, str, dict]:
    """The tiny fasttext version trained on the sample (with calibration) and its metadata."""
    registry = Registry(tiny_models_dir)
    version = registry.versions()[0]
    return registry, version, registry.metadata(version)


def test_training_records_calibration_measured_on_the_saved_models_test_predictions(calibrated):
    registry, version, metadata = calibrated
    calibration = metadata["calibration"]
    # The tiny model is under-confident on the sample (T < 1); seed 42 makes that stable.
    assert calibration["applied"] and calibration["temperature"] != 1.0
    assert calibration["validation"]["ece_after"] < calibration["validation"]["ece_before"]
    predictions = load_predictions(registry, version)
    labels = metadata["labels"]
    probabilities = predictions[[prob_column(label) for label in labels]].to_numpy()
    y = encode(predictions["label"], labels)
    assert calibration["ece"] == pytest.approx(expected_calibration_error(probabilities, y), 1e-6)
    assert [b["count"] for b in calibration["bins"]] == [
        b["count"] for b in reliability_bins(probabilities, y)
    ]
    unscaled = scale_probabilities(probabilities, 1 / calibration["temperature"])
    assert calibration["before"]["ece"] == pytest.approx(
        expected_calibration_error(unscaled, y), abs=1e-4
    )


def test_recorded_test_predictions_and_metrics_are_the_saved_models_own(calibrated):
    # Training scales the unscaled model's probabilities instead of running the calibrated
    # model again; the saved model must give the same answers.
    from pipeline.evaluate import evaluate_predictions

    registry, version, metadata = calibrated
    predictions = load_predictions(registry, version)
    labels = metadata["labels"]
    recorded = predictions[[prob_column(label) for label in labels]].to_numpy()
    served = load_predictor(registry.root, version, "keras").predict_proba(predictions["text"])
    np.testing.assert_allclose(recorded, served, atol=1e-5, rtol=0)
    measured = evaluate_predictions(predictions["label"].tolist(), served, labels)
    assert measured["accuracy"] == pytest.approx(metadata["metrics"]["accuracy"])
    assert measured["macro_f1"] == pytest.approx(metadata["metrics"]["macro_f1"])


def test_the_temperature_lives_in_the_saved_model_and_loads_in_safe_mode(calibrated):
    from pipeline.backend import keras
    from pipeline.runtimes.layers import TemperatureScaling

    registry, version, metadata = calibrated
    with zipfile.ZipFile(registry.model_file(version)) as archive:
        layers = json.loads(archive.read("config.json"))["config"]["layers"]
    scaling = [layer for layer in layers if layer["class_name"] == "TemperatureScaling"]
    assert [s["config"]["temperature"] for s in scaling] == [metadata["calibration"]["temperature"]]
    model = keras.saving.load_model(registry.model_file(version), safe_mode=True)
    assert isinstance(model.get_layer("temperature"), TemperatureScaling)


def test_numpy_path_and_keras_agree_with_the_temperature_in(calibrated):
    registry, version, metadata = calibrated
    keras_probabilities = load_predictor(registry.root, version, "keras").predict_proba(TEXTS)
    numpy_model = load_numpy_model(registry, version)
    assert numpy_model.temperature == metadata["calibration"]["temperature"]
    numpy_probabilities = numpy_model.predict_proba(TEXTS)
    np.testing.assert_allclose(numpy_probabilities, keras_probabilities, atol=1e-5, rtol=0)
    numpy_model.temperature = None  # the network's own probabilities differ: T is applied
    assert np.abs(numpy_model.predict_proba(TEXTS) - keras_probabilities).max() > 1e-3


def test_export_agrees_with_the_calibrated_predictor(calibrated, tmp_path):
    from pipeline.backend import tf
    from pipeline.export import SIGNATURE, export_saved_model

    registry, version, _ = calibrated
    out = export_saved_model(registry.root, version, tmp_path / "sentiment" / "1")
    serve = tf.saved_model.load(str(out)).signatures[SIGNATURE]
    exported = serve(text=tf.constant(TEXTS))["probabilities"].numpy()
    expected = load_predictor(registry.root, version).predict_proba(TEXTS)
    np.testing.assert_allclose(exported, expected, atol=1e-5, rtol=0)


def test_transformer_serving_path_applies_the_temperature_inside_its_network(
    tiny_encoder, tmp_path
):
    from pipeline.recipes.encoder import build_text_encoder, load_encoder
    from pipeline.recipes.transformer import build_end_to_end, build_network, with_temperature
    from pipeline.runtimes.keras_model import load_keras_model, serving_forward
    from pipeline.train import quantize

    backbone, tokenizer = load_encoder()
    cleaner, packer = build_text_encoder(tokenizer, 32)
    model = build_end_to_end(cleaner, packer, build_network(backbone, 3, 0.1))
    quantize(model, "minilm")  # the shipped minilm's path: int8, then the temperature
    unscaled = serving_forward(model)(TEXTS)
    path = tmp_path / "model.keras"
    with_temperature(model, 3.0).save(path)
    loaded = load_keras_model(path)  # safe_mode on
    expected = scale_probabilities(unscaled, 3.0)
    np.testing.assert_allclose(serving_forward(loaded)(TEXTS), expected, atol=1e-5)
    np.testing.assert_allclose(loaded(np.array(TEXTS, dtype=object)), expected, atol=1e-5)


@pytest.fixture
def app_registry(tmp_path, monkeypatch, tiny_models_dir) -> dict[str, str]:
    """A registry with the calibrated tiny version (active), a copy of it saved as if before
    calibration was recorded, and one with neither calibration nor predictions."""
    root = tmp_path / "calibration-models"
    shutil.copytree(tiny_models_dir, root, ignore=shutil.ignore_patterns("*.lock"))
    calibrated = Registry(root).versions()[0]
    older = "20000101-000000-0001"
    shutil.copytree(root / calibrated, root / older)
    metadata = json.loads((root / older / "metadata.json").read_text())
    del metadata["calibration"]
    (root / older / "metadata.json").write_text(json.dumps({**metadata, "version": older}))
    bare = "20000101-000000-0002"
    shutil.copytree(root / older, root / bare)
    (root / bare / PREDICTIONS_FILE).unlink()
    metadata = {k: v for k, v in metadata.items() if k != "files"}
    (root / bare / "metadata.json").write_text(json.dumps({**metadata, "version": bare}))
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(root))
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return {"calibrated": calibrated, "older": older, "bare": bare, "root": str(root)}


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def reliability_charts(at: AppTest) -> list:
    """The data of each reliability diagram on the page: its points, per curve."""
    import pyarrow

    return [
        pd.concat(
            pyarrow.ipc.open_stream(dataset.data.data).read_all().to_pandas()
            for dataset in chart.proto.datasets
        )
        for chart in at.get("vega_lite_chart")
        if "Reliability diagram" in chart.proto.spec
    ]


@pytest.mark.usefixtures("fresh_caches")
def test_models_tab_shows_the_reliability_diagram_and_the_ece(app_registry):
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception
    assert "Calibration" in [s.value for s in at.subheader]
    calibration = Registry(app_registry["root"]).metadata(app_registry["calibrated"])["calibration"]
    values = metric_values(at)
    assert values["Test ECE before scaling"] == f"{calibration['before']['ece']:.3f}"
    assert values["Test ECE after scaling"] == f"{calibration['ece']:.3f}"
    assert values["Temperature"] == f"{calibration['temperature']:.2f}"
    assert any("kept inside the saved model" in c.value for c in at.caption)
    (chart,) = reliability_charts(at)
    points = chart.dropna(subset=["curve"])
    assert set(points["curve"]) == {"before scaling", "after scaling (saved)"}
    saved = points[points["curve"] == "after scaling (saved)"]
    assert saved["texts"].sum() == sum(b["count"] for b in calibration["bins"])
    assert {0, 1} <= set(chart["mean confidence"])  # the diagonal's ends

    at.selectbox(key="models_detail").select(app_registry["older"]).run()
    assert not at.exception
    # Computed from the saved test predictions, which are the calibrated model's own.
    assert metric_values(at)["Test ECE"] == f"{calibration['ece']:.3f}"
    assert any("Computed from the version's saved test predictions" in c.value for c in at.caption)
    (chart,) = reliability_charts(at)
    assert set(chart["curve"].dropna()) == {"saved model"}

    at.selectbox(key="models_detail").select(app_registry["bare"]).run()
    assert not at.exception
    assert any("Calibration was not recorded" in c.value for c in at.caption)
    assert not reliability_charts(at)


@pytest.mark.usefixtures("fresh_caches")
def test_predict_tab_shows_the_calibrated_probability(app_registry):
    root, version = app_registry["root"], app_registry["calibrated"]
    text = "WORST SHOW EVER"
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.text_area(key="predict_text").input(text)
    at = at.button(key="FormSubmitter:predict_form-Predict").click().run()
    assert not at.exception
    shown = next(m for m in at.metric if m.label == "Predicted label")
    calibrated = load_predictor(root, version).predict([text])[0]
    top = calibrated["probabilities"][calibrated["label"]]
    assert shown.value == calibrated["label"] and shown.delta == f"{top:.1%} probability"
    network = load_numpy_model(Registry(root), version)
    network.temperature = None
    unscaled = network.predict_proba([text])[0].max()
    assert f"{unscaled:.1%}" != f"{top:.1%}"  # so the tab shows the scaled one
