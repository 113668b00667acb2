"""Training: fit a network with Keras callbacks, evaluate it, and save it as a version."""

import platform
import textwrap
import threading
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from pipeline import config
from pipeline.backend import keras, tf
from pipeline.baseline import baseline_metrics
from pipeline.data import LabelledData, Splits, split_data
from pipeline.errors import TrainingCancelled
from pipeline.evaluate import evaluate_predictions
from pipeline.jobs import training_slot
from pipeline.model import (
    build_classifier,
    build_end_to_end,
    build_text_encoder,
    compile_classifier,
)
from pipeline.params import CLASS_WEIGHT_POWERS
from pipeline.predict import Predictor, keras_forward
from pipeline.registry import Registry
from pipeline.text import normalize_for_grouping

ProgressReport = Callable[[dict], None]


class ProgressCallback(keras.callbacks.Callback):
    """Reports per-batch and per-epoch progress and stops the run when asked.

    Args:
        report: called with one dict per event ("batch" or "epoch"); must be cheap and
            thread-safe, as it runs on the training thread.
        stop_event: when set, training stops after the current batch.
        epochs: the most epochs the run may take.
    """

    def __init__(self, report: ProgressReport | None, stop_event: threading.Event, epochs: int):
        super().__init__()
        self.report = report or (lambda event: None)
        self.stop_event = stop_event
        self.epochs = epochs
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps")
        self.report(
            {
                "event": "batch",
                "epoch": self.epoch,
                "epochs": self.epochs,
                "batch": batch + 1,
                "steps": steps,
            }
        )
        if self.stop_event.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.report({"event": "epoch", "epoch": epoch + 1, "epochs": self.epochs, **logs})


def _encode_labels(labels: list[str], values) -> np.ndarray:
    index_of = {label: i for i, label in enumerate(labels)}
    return np.array([index_of[v] for v in values], dtype="int64")


def class_weights(y: np.ndarray, weighting: str) -> dict[int, float] | None:
    """Per-class loss weights: none, scikit-learn's "balanced", or its square or fourth root.

    A root lifts the minority classes' recall (and so macro-F1) without giving up as much
    accuracy as full balancing does on skewed data like the GOP tweets.

    Args:
        y: the encoded training labels.
        weighting: one of params.CLASS_WEIGHTINGS.

    Returns:
        A Keras class_weight mapping, or None for no weighting.
    """
    if weighting == "none":
        return None
    present = np.unique(y)
    weights = (
        compute_class_weight("balanced", classes=present, y=y) ** CLASS_WEIGHT_POWERS[weighting]
    )
    return dict(zip(present.tolist(), weights.tolist(), strict=True))


def fit_model(
    splits: Splits,
    labels: list[str],
    params: dict,
    report: ProgressReport | None = None,
    stop_event: threading.Event | None = None,
):
    """Adapt the vectorizer on the training texts and fit the network.

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters.
        report: progress callback, see ProgressCallback.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The end-to-end model (raw strings in) and the per-epoch history.
    """
    stop_event = stop_event or threading.Event()
    keras.utils.set_random_seed(params["seed"])
    cleaner, vectorizer = build_text_encoder(params)
    train_texts = cleaner(tf.constant(splits.train["text"].tolist()))
    vectorizer.adapt(train_texts)
    # Texts are vectorized once; the network then trains on integer arrays, which is fast.
    x_train = vectorizer(train_texts).numpy()
    x_val = vectorizer(cleaner(tf.constant(splits.validation["text"].tolist()))).numpy()
    y_train = _encode_labels(labels, splits.train["label"])
    y_val = _encode_labels(labels, splits.validation["label"])
    callbacks = [ProgressCallback(report, stop_event, params["epochs"])]
    if params["patience"] > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params["patience"], restore_best_weights=True
            )
        )
    class_weight = class_weights(y_train, params["class_weighting"])
    classifier = compile_classifier(build_classifier(params, len(labels)), params)
    history = classifier.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        class_weight=class_weight,
        callbacks=callbacks,
        shuffle=True,
        verbose=0,
    )
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    return build_end_to_end(cleaner, vectorizer, classifier, params), history.history


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
) -> dict:
    """Split, train, evaluate on the test part (beside a TF-IDF baseline) and save a version.

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

    Returns:
        The new version's metadata, including `version`, `path` and `metrics`.

    Raises:
        JobBusy: another training (any process) is running into the same registry.
    """
    with training_slot(registry, textwrap.shorten(command or "a training run", 100)):
        return _train_and_save(
            data, params, registry, report, stop_event, promote, command, extra_training_rows
        )


def _train_and_save(
    data, params, registry, report, stop_event, promote, command, extra_training_rows
) -> dict:
    report = report or (lambda event: None)
    stop_event = stop_event or threading.Event()
    splits = split_data(data, seed=params["seed"])
    added = 0
    if extra_training_rows is not None and len(extra_training_rows):
        splits, added = add_training_rows(splits, extra_training_rows, data.labels)
    report({"event": "split", **splits.sizes})
    started = time.perf_counter()
    model, history = fit_model(splits, data.labels, params, report, stop_event)
    train_seconds = time.perf_counter() - started
    report({"event": "evaluating"})
    predictor = Predictor(keras_forward(model), data.labels)
    metrics = {
        part: evaluate_predictions(
            frame["label"].tolist(), predictor.predict_proba(frame["text"]), data.labels
        )
        for part, frame in (("test", splits.test), ("validation", splits.validation))
    }
    report({"event": "baseline"})
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
        "history": {k: [float(x) for x in v] for k, v in history.items()},
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": round(train_seconds, 2),
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
        },
        "reproduce": command,
    }
    report({"event": "saving"})
    version = registry.save(model, metadata, promote=promote)
    return {**registry.metadata(version), "path": str(registry.path(version))}
