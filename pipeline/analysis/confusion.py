"""The texts behind a version's confusion matrix, from its saved test predictions."""

import pandas as pd

from pipeline.analysis.predictions import prob_column


def cell_texts(predictions: pd.DataFrame, true: str, predicted: str) -> pd.DataFrame:
    """The test texts of one confusion-matrix cell, most confident first.

    Args:
        predictions: a version's test predictions (pipeline.analysis.predictions).
        true: the row's label (the true class).
        predicted: the column's label (the predicted class).

    Returns:
        The matching rows, sorted by the predicted class's probability, highest first.
    """
    cell = predictions[(predictions["label"] == true) & (predictions["predicted"] == predicted)]
    return cell.sort_values(prob_column(predicted), ascending=False, kind="stable")


def worst_errors(predictions: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The wrong predictions, the most confident (the most misleading) first.

    Args:
        predictions: a version's test predictions.
        limit: keep only this many; None keeps all.

    Returns:
        The wrong rows, sorted by the probability given to the wrong label.
    """
    wrong = predictions[predictions["label"] != predictions["predicted"]]
    wrong = wrong.sort_values("confidence", ascending=False, kind="stable")
    return wrong if limit is None else wrong.head(limit)


def confusion_counts(predictions: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """How many test texts fall in each (true, predicted) cell, every cell listed."""
    counts = pd.crosstab(predictions["label"], predictions["predicted"])
    counts = counts.reindex(index=labels, columns=labels, fill_value=0)
    return counts.rename_axis(index="true", columns="predicted")
