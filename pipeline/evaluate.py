"""Evaluation on held-out data with scikit-learn's metrics (whether data was held out from
a version: pipeline.analysis.held_out)."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from pipeline.errors import DataError
from pipeline.text import normalize_for_grouping

if TYPE_CHECKING:
    from pipeline.predict import Predictor


def evaluate_predictions(y_true: list[str], probabilities: np.ndarray, labels: list[str]) -> dict:
    """Score predicted probabilities against true labels.

    Args:
        y_true: the true label of each row.
        probabilities: shape (n, len(labels)), columns in `labels` order.
        labels: the model's label order.

    Returns:
        accuracy, macro_f1, per_class {label: precision, recall, f1, support} and the
        confusion matrix (rows true, columns predicted, both in `labels` order).
    """
    y_pred = [labels[i] for i in np.asarray(probabilities).argmax(axis=1)]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": list(labels),
    }


def each_text_once(
    texts: pd.Series, y_true: list[str], probabilities: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """One row per distinct tweet: copies grouped as the split groups them, so that a tweet
    retweeted 300 times counts once.

    Each group gets its most frequent true label (the alphabetically first among equally
    frequent ones) and the mean of its rows' probabilities.

    Args:
        texts: the part's raw texts.
        y_true: their true labels.
        probabilities: shape (n, classes).

    Returns:
        (labels, probabilities) with one row per group, in order of first appearance.
    """
    frame = pd.DataFrame(np.asarray(probabilities))
    groups = pd.Series(texts).map(normalize_for_grouping).to_numpy()
    probability = frame.groupby(groups, sort=False).mean()
    label = pd.Series(list(y_true)).groupby(groups, sort=False).agg(lambda v: v.mode().iloc[0])
    return label.loc[probability.index].tolist(), probability.to_numpy()


def accuracy_and_macro_f1(
    texts: pd.Series, y_true: list[str], probabilities: np.ndarray, labels: list[str]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(accuracy, macro-F1) row by row, and with each distinct tweet counted once."""
    by_row = evaluate_predictions(y_true, probabilities, labels)
    by_text = evaluate_predictions(*each_text_once(texts, y_true, probabilities), labels)
    return (
        (by_row["accuracy"], by_row["macro_f1"]),
        (by_text["accuracy"], by_text["macro_f1"]),
    )


def evaluate_predictor(
    predictor: "Predictor", texts: Iterable[str], y_true: list[str], labels: list[str]
) -> dict:
    """A loaded version's metrics on labelled texts, e.g. the active version's on a new
    version's test part, so that both are measured on the same texts.

    Args:
        predictor: a loaded predictor (pipeline.predict).
        texts: the texts.
        y_true: their true labels.
        labels: the label order of the figures returned (the new version's); the predictor
            must predict exactly these labels, in any order.

    Returns:
        As evaluate_predictions.

    Raises:
        DataError: the predictor predicts other labels.
    """
    if sorted(predictor.labels) != sorted(labels):
        raise DataError(
            f"Version {predictor.version or '?'} predicts {', '.join(predictor.labels)}, "
            f"not these texts' labels ({', '.join(labels)}), so it cannot be scored on them."
        )
    columns = [predictor.labels.index(label) for label in labels]
    probabilities = np.asarray(predictor.predict_proba(texts))[:, columns]
    return evaluate_predictions(list(y_true), probabilities, labels)
