"""The final refit: train again on train + validation for the epochs early stopping found.

`pipeline.train.fit_model` wraps a recipe's fit in `fit_with_refit`; an ensemble, whose
members stop at different epochs, wraps each member's fit instead (pipeline.recipes.ensemble).
The test part stays untouched either way.
"""

import dataclasses

import numpy as np
import pandas as pd

from pipeline.data import Splits
from pipeline.recipes.base import TrainingParams


def fit_with_refit(
    fit, splits: Splits, labels: list[str], params: TrainingParams, report, stop_event
):
    """Run `fit`, then, with `final_refit` on, again on train + validation.

    Args:
        fit: a recipe's fit function (see pipeline.recipes.base.Recipe).
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters of the recipe `fit` belongs to.
        report: progress callback or None; a refit announces itself with a "refitting"
            event, and its epoch events carry `"refit": True` (they count from 1 again).
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        (model, the first run's per-epoch history, extras); after a refit the model is the
        refit one and extras has `refit`: its epochs and rows.
    """
    model, history, extras = fit(splits, labels, params, report, stop_event)
    if not params.final_refit:
        return model, history, extras
    epochs = best_epoch(history, params.patience, params.epochs)
    if report is not None:
        report({"event": "refitting"})
        report = _marked_as_refit(report)
    refit_params = dataclasses.replace(params, epochs=epochs, patience=0)
    model, _, _ = fit(merge_validation(splits), labels, refit_params, report, stop_event)
    rows = len(splits.train) + len(splits.validation)
    return model, history, {**extras, "refit": {"epochs": epochs, "rows": rows}}


def _marked_as_refit(report):
    """`report`, with the refit's epoch events marked."""
    return lambda event: report({**event, "refit": True} if event["event"] == "epoch" else event)


def best_epoch(history: dict, patience: int, epochs: int) -> int:
    """The epoch whose weights early stopping kept (the lowest validation loss).

    Args:
        history: the run's per-epoch history.
        patience: its early stopping's patience (0: none).
        epochs: the most epochs it could run.
    """
    losses = history.get("val_loss") or []
    if patience == 0 or not losses:
        return len(history.get("loss", [])) or epochs
    return int(np.argmin(losses)) + 1


def merge_validation(splits: Splits) -> Splits:
    """Train on train + validation; validation is kept only for the curves (it is seen)."""
    train = pd.concat([splits.train, splits.validation], ignore_index=True)
    return Splits(train, splits.validation, splits.test, splits.seed)
