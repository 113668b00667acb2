"""Training: fit a recipe (pipeline/recipes), evaluate it, and save it as a version."""

import platform
import textwrap
import threading
import time
from collections.abc import Callable

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
from pipeline.params import SPECS_BY_NAME
from pipeline.predict import Predictor
from pipeline.recipes import get_recipe, lite_convert
from pipeline.recipes.base import release_heap
from pipeline.recipes.refit import fit_with_refit
from pipeline.registry import Registry
from pipeline.runtimes import lite
from pipeline.runtimes.keras_model import serving_forward
from pipeline.text import normalize_for_grouping
from pipeline.tracking import track_training

ProgressReport = Callable[[dict], None]
PARTS = ("test", "validation")


def fit_model(
    splits: Splits,
    labels: list[str],
    params: dict,
    report: ProgressReport | None = None,
    stop_event: threading.Event | None = None,
):
    """Fit the chosen architecture's recipe on a split, with an optional final refit.

    With `final_refit` "yes", a second run trains on train + validation for the number of
    epochs early stopping found in the first (an ensemble refits each member for its own);
    the test part stays untouched (pipeline.recipes.refit).

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters; `architecture` picks the recipe.
        report: progress callback, see recipes.base.ProgressCallback.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The end-to-end model (raw strings in), the first run's per-epoch history, and
        extras for the metadata (from the recipe, plus `refit` when one ran).
    """
    recipe = get_recipe(params["architecture"])
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


def calibrate(model, params: dict, unscaled: dict, splits: Splits, labels: list[str]):
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
        fit=params.get("final_refit") != "yes",
    )
    if not record["applied"]:
        return model, record, dict(unscaled)
    model = get_recipe(params["architecture"]).with_temperature(model, record["temperature"])
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
    params: dict,
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
        data: validated labelled data.
        params: validated hyperparameters.
        registry: where to save the version.
        report: progress callback, see ProgressCallback.
        stop_event: set it to cancel; nothing is saved then.
        promote: make the new version active.
        command: the command line that reproduces this run, recorded in the metadata.
        extra_training_rows: more rows (`text`, `label`), e.g. user feedback, added to the
            training part only, and only where their text is not in validation or test.
        tags: recorded in the metadata under `tags` (and as MLflow run tags), e.g.
            {"sweep": id, "trial": n}.

    Returns:
        The new version's metadata, including `version`, `path` and `metrics`.

    Raises:
        JobBusy: another training (any process) is running into the same registry.
    """
    with (
        training_slot(registry, textwrap.shorten(command or "a training run", 100)),
        track_training(params, data.describe(), tags) as run,  # MLflow, TensorBoard
    ):
        return _train_and_save(
            data, params, registry, run.wrap(report), stop_event, promote, command,
            extra_training_rows, tags, run,
        )  # fmt: skip


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
    params: dict,
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
        data: validated labelled data.
        params: validated hyperparameters; `seed` is the one `splits` was made with.
        registry: where to save the version.
        splits: split_data(data, params["seed"]).
        baseline: baseline_metrics(splits, data.labels).
        report: progress callback, see ProgressCallback.
        stop_event: set it to cancel; nothing is saved then.
        command: the command line that reproduces this run.
        tags: recorded in the metadata under `tags`.

    Returns:
        The new version's metadata, as `train_and_save` returns it.
    """
    with track_training(params, data.describe(), tags) as run:
        return _train_and_save(
            data, params, registry, run.wrap(report), stop_event, False, command, None, tags,
            run, splits, baseline,
        )  # fmt: skip


def _train_and_save(
    data, params, registry, report, stop_event, promote, command, extra_training_rows, tags, run,
    splits=None, baseline=None,
) -> dict:  # fmt: skip
    report = report or (lambda event: None)
    stop_event = stop_event or threading.Event()
    job_started = time.perf_counter()
    if splits is None:
        splits = split_data(data, seed=params["seed"])
    added = 0
    if extra_training_rows is not None and len(extra_training_rows):
        splits, added = add_training_rows(splits, extra_training_rows, data.labels)
    report({"event": "split", **splits.sizes})
    started = time.perf_counter()
    model, history, extras = fit_model(splits, data.labels, params, report, stop_event)
    train_seconds = time.perf_counter() - started
    release_heap()  # what fitting left (the recipes drop their optimizer state)
    report({"event": "evaluating"})
    if params.get("quantize") == "int8":
        # No name keeps the float model's predictor: its traced graph holds the float
        # weights, which quantizing replaces, and they are released with it.
        extras["before_quantization"] = evaluate_parts(
            predict_parts(serving_predictor(model, params["architecture"], data.labels), splits),
            splits,
            data.labels,
        )
        quantize(model, params["architecture"])
        release_heap()
    lite_copy = None
    if SPECS_BY_NAME["lite_copy"].applies_to(params["architecture"]) and (
        params["lite_copy"] == "yes" and lite.available()
    ):
        report({"event": "converting"})
        # The network as it will be stored (quantized), before calibration: serving
        # applies the temperature itself.
        lite_copy = lite_convert.to_tflite(lite_convert.transformer_network(model))
    report({"event": "calibrating"})
    unscaled = predict_parts(serving_predictor(model, params["architecture"], data.labels), splits)
    model, calibration, probabilities = calibrate(model, params, unscaled, splits, data.labels)
    metrics = evaluate_parts(probabilities, splits, data.labels)
    report({"event": "analysing"})
    files = {PREDICTIONS_FILE: predictions_csv(splits.test, probabilities["test"], data.labels)}
    files.update(run.files())
    if lite_copy is not None:
        extras["lite"] = _check_lite_copy(model, lite_copy, splits, probabilities)
        if extras["lite"]["kept"]:
            files[lite.LITE_FILE] = lite_copy
    behaviour = run_behaviour_checks(serving_predictor(model, params["architecture"], data.labels))
    report({"event": "baseline"})
    if baseline is None:
        baseline = baseline_metrics(splits, data.labels)
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    metadata = {
        "architecture": params["architecture"],
        "params": params,
        "labels": data.labels,
        "data": data.describe(),
        "split": {
            "seed": params["seed"],
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
        "tags": tags or {},
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
        "reproduce": command,
    }
    metadata["tracking"] = run.log_results(metadata)
    report({"event": "saving"})
    version = registry.save(model, metadata, promote=promote, files=files)
    run.finish(version)
    return {**registry.metadata(version), "path": f"{registry.root}/{version}"}
