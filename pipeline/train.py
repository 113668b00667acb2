"""Training: fit a recipe (pipeline/recipes), calibrate and evaluate it, save it as a version."""

import platform
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.analysis.behaviour import run_behaviour_checks
from pipeline.analysis.predictions import PREDICTIONS_FILE, predictions_csv
from pipeline.backend import keras, tf
from pipeline.baseline import baseline_metrics
from pipeline.calibration import choose_temperature, encode, scale_probabilities
from pipeline.data import LabelledData, Splits, split_data
from pipeline.errors import TrainingCancelled
from pipeline.evaluate import evaluate_predictions
from pipeline.jobs import training_slot
from pipeline.predict import Predictor
from pipeline.recipes import get_recipe, lite_convert
from pipeline.recipes.base import TrainingParams
from pipeline.recipes.fitting import release_heap
from pipeline.recipes.refit import fit_with_refit
from pipeline.recipes.transformer import EncoderParams
from pipeline.registry import Registry
from pipeline.runtimes import lite
from pipeline.runtimes.keras_model import serving_forward
from pipeline.runtimes.layers import add_temperature
from pipeline.text import normalize_for_grouping
from pipeline.tracking import TrainingRun, track_training

ProgressReport = Callable[[dict], None]
PARTS = ("test", "validation")


@dataclass(frozen=True)
class RunInputs:
    """Everything one training run is given.

    Attributes:
        data: validated labelled data.
        params: the recipe's validated hyperparameters (params.resolve_params).
        registry: where to save the version.
        report: progress callback, see recipes.fitting.ProgressCallback.
        stop_event: set it to cancel; nothing is saved then.
        promote: make the new version active.
        command: the command line that reproduces this run, recorded in the metadata.
        extra_training_rows: more rows (`text`, `label`), e.g. user feedback, added to the
            training part only, and only where their text is not in validation or test.
        tags: recorded in the metadata under `tags` (and as MLflow run tags), e.g.
            {"sweep": id, "trial": n}.
        splits: a split made once for many runs (a sweep's), or None to split here.
        baseline: the TF-IDF baseline's metrics on `splits`, or None to fit it here.
    """

    data: LabelledData
    params: TrainingParams
    registry: Registry
    report: ProgressReport = lambda event: None  # noqa: E731
    stop_event: threading.Event = field(default_factory=threading.Event)
    promote: bool = False
    command: str | None = None
    extra_training_rows: pd.DataFrame | None = None
    tags: dict = field(default_factory=dict)
    splits: Splits | None = None
    baseline: dict | None = None


def fit_model(
    splits: Splits,
    labels: list[str],
    params: TrainingParams,
    report: ProgressReport | None = None,
    stop_event: threading.Event | None = None,
):
    """Fit the chosen architecture's recipe on a split, with an optional final refit.

    With `final_refit` on, a second run trains on train + validation for the number of
    epochs early stopping found in the first (an ensemble refits each member for its own);
    the test part stays untouched (pipeline.recipes.refit).

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters; `architecture` picks the recipe.
        report: progress callback, see recipes.fitting.ProgressCallback.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The end-to-end model (raw strings in), the first run's per-epoch history, and
        extras for the metadata (from the recipe, plus `refit` when one ran).
    """
    recipe = get_recipe(params.architecture)
    if recipe.refits_members:
        return recipe.fit(splits, labels, params, report, stop_event)
    return fit_with_refit(recipe.fit, splits, labels, params, report, stop_event)


def quantize(model, architecture: str) -> None:
    """Store and run a transformer's large layers in int8, in place (its recipe's quantize)."""
    get_recipe(architecture).quantize(model)


def serving_predictor(model, architecture: str, labels: list[str]) -> Predictor:
    """The predictor a freshly trained model is evaluated with: the recipe's serving path.

    A transformer's runs the plain graph, with no XLA program compiled: for one pass over
    the evaluation texts compiling gains nothing, and each compiled shape stays in memory
    (it raised a GOP fine-tune's peak RSS by about 190 MiB at one point).

    Args:
        model: the end-to-end model.
        architecture: its architecture.
        labels: the label order.
    """
    return Predictor(serving_forward(model, max_compiled=0), labels)


def calibrate(model, params: TrainingParams, unscaled: dict, splits: Splits, labels: list[str]):
    """Temperature-scale a freshly trained model when that lowers its validation ECE.

    Args:
        model: the end-to-end model, after any quantization.
        params: its hyperparameters (`architecture`, `final_refit`).
        unscaled: that model's probabilities on the split's "validation" and "test" parts.
        splits: the split it was trained on.
        labels: the label order.

    Returns:
        The model to save (with a TemperatureScaling layer when applied, else the same
        model), the `calibration` record (see calibration.choose_temperature), and the saved
        model's probabilities on both parts: the unscaled ones at the chosen temperature, as
        the TemperatureScaling layer computes them (scale_probabilities), so the network
        does not run over them again.
    """
    record = choose_temperature(
        unscaled["validation"],
        encode(splits.validation["label"], labels),
        unscaled["test"],
        encode(splits.test["label"], labels),
        # After a final refit the network has trained on the validation part, so a
        # temperature fitted there would be fitted on seen data.
        fit=not params.final_refit,
    )
    if not record["applied"]:
        return model, record, dict(unscaled)
    scale = get_recipe(params.architecture).with_temperature or add_temperature
    model = scale(model, record["temperature"])
    scaled = {part: scale_probabilities(p, record["temperature"]) for part, p in unscaled.items()}
    return model, record, scaled


def _check_lite_copy(model, content: bytes, splits: Splits, probabilities: dict) -> dict:
    """Compare the LiteRT copy with the Keras model on the validation and test texts."""
    texts = [*splits.validation["text"], *splits.test["text"]]
    expected = np.concatenate([probabilities["validation"], probabilities["test"]])
    return lite_convert.check_copy(model, content, texts, expected)


def add_training_rows(splits: Splits, rows: pd.DataFrame, labels: list[str]) -> tuple[Splits, int]:
    """Add rows to the training part, leaving out any whose text is held out or unlabelled.

    Args:
        splits: the split of the main data.
        rows: extra rows with `text` and `label` columns.
        labels: the data's labels; rows with another label are left out.

    Returns:
        The new split and how many rows were added.
    """
    held_out = set(
        pd.concat([splits.validation["text"], splits.test["text"]]).map(normalize_for_grouping)
    )
    keep = rows["label"].isin(labels) & ~rows["text"].map(normalize_for_grouping).isin(held_out)
    train = pd.concat([splits.train, rows.loc[keep, ["text", "label"]]], ignore_index=True)
    return Splits(train, splits.validation, splits.test, splits.seed), int(keep.sum())


def train_and_save(
    data: LabelledData,
    params: TrainingParams,
    registry: Registry,
    report: ProgressReport | None = None,
    stop_event: threading.Event | None = None,
    promote: bool = False,
    command: str | None = None,
    extra_training_rows: pd.DataFrame | None = None,
    tags: dict | None = None,
) -> dict:
    """Split, train, evaluate on the test part (beside a TF-IDF baseline) and save a version.

    Besides the model, the version keeps its test-set predictions and behavioural checks
    (pipeline.analysis), so the error-analysis views never recompute them, and its
    TensorBoard logs; with MLFLOW_TRACKING_URI set, the run is logged to MLflow too
    (pipeline.tracking).

    Args:
        data, params, registry, report, stop_event, promote, command,
        extra_training_rows, tags: see RunInputs.

    Returns:
        The new version's metadata, including `version`, `path` and `metrics`.

    Raises:
        JobBusy: another training (any process) is running into the same registry.
    """
    inputs = RunInputs(
        data, params, registry, report or (lambda event: None), stop_event or threading.Event(),
        promote, command, extra_training_rows, tags or {},
    )  # fmt: skip
    with training_slot(registry, textwrap.shorten(command or "a training run", 100)):
        return run_training(inputs)


def predict_parts(predictor: Predictor, splits: Splits) -> dict:
    """The predictor's probabilities on the "test" and "validation" parts."""
    return {part: predictor.predict_proba(getattr(splits, part)["text"]) for part in PARTS}


def evaluate_parts(probabilities: dict, splits: Splits, labels: list[str]) -> dict:
    """Metrics on the test and validation parts, from predict_parts' probabilities."""
    return {
        part: evaluate_predictions(getattr(splits, part)["label"].tolist(), p, labels)
        for part, p in probabilities.items()
    }


def train_and_save_prepared(
    data: LabelledData,
    params: TrainingParams,
    registry: Registry,
    splits: Splits,
    baseline: dict,
    report: ProgressReport | None = None,
    stop_event: threading.Event | None = None,
    command: str | None = None,
    tags: dict | None = None,
) -> dict:
    """`train_and_save` on a split and baseline computed once for many runs (a sweep's trials).

    The caller holds the training slot (jobs.training_slot) for all the runs; this does not
    take it.

    Args:
        data, params, registry, report, stop_event, command, tags: see RunInputs.
        splits: split_data(data, params.seed).
        baseline: baseline_metrics(splits, data.labels).

    Returns:
        The new version's metadata, as `train_and_save` returns it.
    """
    inputs = RunInputs(
        data, params, registry, report or (lambda event: None), stop_event or threading.Event(),
        command=command, tags=tags or {}, splits=splits, baseline=baseline,
    )  # fmt: skip
    return run_training(inputs)


def run_training(inputs: RunInputs) -> dict:
    """One run: tracked (MLflow, TensorBoard), trained, evaluated and saved; see RunInputs.

    Returns:
        The new version's metadata, including `version`, `path` and `metrics`.
    """
    with track_training(inputs.params.to_dict(), inputs.data.describe(), inputs.tags) as run:
        return _train_and_save(inputs, run)


def _train_and_save(inputs: RunInputs, run: TrainingRun) -> dict:
    data, params, registry, stop_event = (
        inputs.data, inputs.params, inputs.registry, inputs.stop_event
    )  # fmt: skip
    report = run.wrap(inputs.report)
    job_started = time.perf_counter()
    splits = inputs.splits or split_data(data, seed=params.seed)
    added = 0
    extra = inputs.extra_training_rows
    if extra is not None and len(extra):
        splits, added = add_training_rows(splits, extra, data.labels)
    report({"event": "split", **splits.sizes})
    started = time.perf_counter()
    model, history, extras = fit_model(splits, data.labels, params, report, stop_event)
    train_seconds = time.perf_counter() - started
    release_heap()  # what fitting left (the recipes drop their optimizer state)
    report({"event": "evaluating"})
    encoder = params if isinstance(params, EncoderParams) else None
    if encoder and encoder.quantize == "int8":
        # No name keeps the float model's predictor: its traced graph holds the float
        # weights, which quantizing replaces, and they are released with it.
        extras["before_quantization"] = evaluate_parts(
            predict_parts(serving_predictor(model, params.architecture, data.labels), splits),
            splits,
            data.labels,
        )
        quantize(model, params.architecture)
        release_heap()
    lite_copy = None
    if encoder and encoder.lite_copy and lite.available():
        report({"event": "converting"})
        # The network as it will be stored (quantized), before calibration: serving
        # applies the temperature itself.
        lite_copy = lite_convert.to_tflite(lite_convert.transformer_network(model))
    report({"event": "calibrating"})
    unscaled = predict_parts(serving_predictor(model, params.architecture, data.labels), splits)
    model, calibration, probabilities = calibrate(model, params, unscaled, splits, data.labels)
    metrics = evaluate_parts(probabilities, splits, data.labels)
    report({"event": "analysing"})
    files = {PREDICTIONS_FILE: predictions_csv(splits.test, probabilities["test"], data.labels)}
    files.update(run.files())
    if lite_copy is not None:
        extras["lite"] = _check_lite_copy(model, lite_copy, splits, probabilities)
        if extras["lite"]["kept"]:
            files[lite.LITE_FILE] = lite_copy
    behaviour = run_behaviour_checks(serving_predictor(model, params.architecture, data.labels))
    report({"event": "baseline"})
    baseline = inputs.baseline or baseline_metrics(splits, data.labels)
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    metadata = {
        "architecture": params.architecture,
        "params": params.to_dict(),
        "labels": data.labels,
        "data": data.describe(),
        "split": {
            "seed": params.seed,
            "sizes": splits.sizes,
            "validation_share": config.VALIDATION_SHARE,
            "test_share": config.TEST_SHARE,
            "grouped_by": "normalised text (lower-cased, no URLs, no leading 'RT @user:')",
        },
        "metrics": metrics["test"],
        "validation_metrics": metrics["validation"],
        "baseline": {"name": "tf-idf word 1-2 grams + logistic regression", "metrics": baseline},
        "extra_training_rows": added,
        "behaviour": behaviour,
        "calibration": calibration,
        "tags": inputs.tags,
        **extras,
        "history": {k: [float(x) for x in v] for k, v in history.items()},
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": round(train_seconds, 2),
        # The whole job until saving: fitting plus evaluation, the LiteRT copy, calibration,
        # analysis and the baseline (pipeline.estimate predicts this).
        "job_seconds": round(time.perf_counter() - job_started, 2),
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
        },
        "reproduce": inputs.command,
    }
    metadata["tracking"] = run.log_results(metadata)
    report({"event": "saving"})
    version = registry.save(model, metadata, promote=inputs.promote, files=files)
    run.finish(version)
    return {**registry.metadata(version), "path": f"{registry.root}/{version}"}
