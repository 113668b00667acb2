"""Evaluation on held-out data with scikit-learn's metrics, and whether it was held out."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from pipeline.analysis.corrections import source_chain
from pipeline.analysis.predictions import load_predictions
from pipeline.errors import DataError, RegistryError
from pipeline.registry import Registry
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


@dataclass
class HeldOut:
    """Whether a version's training left out another version's test texts.

    Attributes:
        held_out: True when none of the texts was in its training or validation part;
            False when some were or most likely were; None when that cannot be told.
        message: one sentence saying which, and how it is known.
    """

    held_out: bool | None
    message: str


def _distinct_texts(predictions: pd.DataFrame) -> set[str]:
    return set(predictions["text"].map(normalize_for_grouping))


def _own_test_texts(registry: Registry, version: str) -> set[str] | None:
    try:
        predictions = load_predictions(registry, version)
    except RegistryError:
        return None
    return None if predictions is None else _distinct_texts(predictions)


def _same_data(a: dict, b: dict) -> bool:
    keys = ("sha256", "text_column", "label_column")
    return a.get("sha256") is not None and all(a.get(k) == b.get(k) for k in keys)


def _same_split(a: dict, b: dict) -> bool:
    keys = ("seed", "validation_share", "test_share")
    return all(a.get("split", {}).get(k) == b.get("split", {}).get(k) for k in keys)


def held_out_from(registry: Registry, trained: str, tested: str) -> HeldOut:
    """Were `tested`'s test texts held out from `trained`'s training (and validation)?

    Exact when both were trained on the same data (file by SHA-256, and columns): with the
    same split none was seen; with another split, the texts outside `trained`'s own test
    part were (counted from its saved test predictions). For different files, a corrected
    copy of the other's file (pipeline.analysis.corrections) or texts in both test parts
    show that the files share texts; otherwise it cannot be told. Texts are compared as the
    split groups them (pipeline.text.normalize_for_grouping).

    Args:
        registry: the registry holding both versions.
        trained: the version whose training is in question (e.g. the active one).
        tested: the version whose test part is used (it must have kept its predictions).

    Returns:
        The verdict and a sentence saying it.

    Raises:
        RegistryError: `tested` kept no test predictions.
    """
    meta, other = registry.metadata(trained), registry.metadata(tested)
    predictions = load_predictions(registry, tested)
    if predictions is None:
        raise RegistryError(f"Version {tested} kept no test predictions.")
    texts = _distinct_texts(predictions)
    data, name = meta.get("data", {}), meta.get("data", {}).get("name", "unrecorded data")
    own = _own_test_texts(registry, trained)
    flatters = "which flatters its figures"
    if _same_data(data, other.get("data", {})):
        if _same_split(meta, other):
            return HeldOut(
                True,
                f"Version {trained} was trained on the same data ({name}) with the same "
                "split: these test texts were held out from it too.",
            )
        split = f"another split (seed {meta.get('split', {}).get('seed', '?')})"
        if own is None:
            return HeldOut(
                False,
                f"Version {trained} was trained on the same data ({name}) with {split}: "
                f"some of these test texts were in its training data, {flatters}.",
            )
        seen = len(texts - own)
        return HeldOut(
            seen == 0,
            f"Version {trained} was trained on the same data ({name}) with {split}: {seen} "
            f"of these {len(texts)} distinct test texts were in its training data"
            + (f", {flatters}." if seen else "."),
        )
    sha, other_sha = data.get("sha256"), other.get("data", {}).get("sha256")
    if sha and other_sha and set(source_chain(sha)) & set(source_chain(other_sha)):
        return HeldOut(
            False,
            f"Version {trained} was trained on {name}, and this data is a corrected copy of it "
            f"(or both are copies of one file): it was most likely trained on some of these "
            f"test texts, {flatters}.",
        )
    shared = len(texts & own) if own else 0
    if shared:
        return HeldOut(
            False,
            f"{shared} of these test texts are in version {trained}'s own test part too, so "
            f"its data ({name}) shares texts with this data: it may have been trained on "
            f"others of them, {flatters}.",
        )
    return HeldOut(
        None,
        f"Version {trained} was trained on other data ({name}); it has not seen these test "
        "texts unless that file holds them too.",
    )
