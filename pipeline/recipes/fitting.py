"""What fitting a Keras network shares across recipes: progress and cancelling, early
stopping, class weights, and handing memory back. Imported by the recipes' `fit` functions
only (it imports TensorFlow)."""

import contextlib
import ctypes
import gc
import threading

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from pipeline.backend import keras
from pipeline.data import Splits
from pipeline.recipes.base import CLASS_WEIGHT_POWERS, ProgressReport


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


def training_callbacks(params, report, stop_event) -> list:
    """Progress and cancel, plus early stopping on validation loss (best weights restored).

    Args:
        params: the run's TrainingParams (epochs, patience).
        report: progress callback, see ProgressCallback.
        stop_event: see ProgressCallback.
    """
    callbacks = [ProgressCallback(report, stop_event, params.epochs)]
    if params.patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params.patience, restore_best_weights=True
            )
        )
    return callbacks


def release_heap() -> None:
    """Hand freed heap back to the system (glibc keeps it otherwise).

    Converting a MiniLM network allocates about 600 MiB for a moment; glibc keeps that in
    the process after it is freed, and in training it stayed resident through calibration
    and evaluation. A no-op off glibc.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def release_training_state(network) -> None:
    """Let go of what only fitting needs, once `fit` has returned.

    The optimizer (AdamW keeps two float32 copies of every trainable weight: 180 MB for
    MiniLM) and the traced train and test functions would otherwise stay with the network
    through evaluation, conversion and saving. (The resident memory falls less than that:
    TensorFlow keeps most of what fitting took.) The network still predicts, and is saved
    without an optimizer, as before.
    """
    network.optimizer = None
    network.train_function = None
    network.test_function = None
    release_heap()


def encode_labels(labels: list[str], values) -> np.ndarray:
    """Label names to their index in `labels`."""
    index_of = {label: i for i, label in enumerate(labels)}
    return np.array([index_of[v] for v in values], dtype="int64")


def class_weights(y: np.ndarray, weighting: str) -> dict[int, float] | None:
    """Per-class loss weights: none, scikit-learn's "balanced", or its square or fourth root.

    A root lifts the minority classes' recall (and so macro-F1) without giving up as much
    accuracy as full balancing does on skewed data like the GOP tweets.

    Args:
        y: the encoded training labels.
        weighting: one of base.CLASS_WEIGHTINGS.

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


def encoded_splits(splits: Splits, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation labels as class indices."""
    return encode_labels(labels, splits.train["label"]), encode_labels(
        labels, splits.validation["label"]
    )
