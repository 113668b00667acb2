"""Likely label errors: confident learning (cleanlab) on out-of-fold predicted probabilities.

Every row gets a probability for each class from a model that never saw that row, nor any
copy of its tweet: word + character TF-IDF (pipeline.baseline.word_char_features) and
logistic regression, in LABEL_ISSUE_FOLDS folds grouped by normalised text. cleanlab's
`find_label_issues` then flags the rows whose given label the model confidently contradicts,
and ranks them by self-confidence (the probability of the given label), worst first.

Why cleanlab rather than a few lines of our own: "the model disagrees" (predicted label not
the given one) flags every model error, a third of GOP's rows. Confident learning counts a
row as confidently another class only above that class's own average self-confidence, so a
class the model is generally unsure of is not flagged wholesale; it estimates the joint
distribution of given and true labels from those counts, calibrated to the class sizes,
and prunes that many rows per (given, true) pair, least confident first. That is the
published, tested method (Northcutt et al., JAIR 2021), with its edge cases (a class with
no confident row, ties, tiny classes) handled; cleanlab is pure NumPy/scikit-learn (no
PyTorch) and also gives the label-quality score shown beside each row.
"""

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.analysis.tablecache import cached_table
from pipeline.baseline import word_char_features
from pipeline.data import LabelledData
from pipeline.errors import DataError
from pipeline.text import CLEANING_RULES, normalize_for_grouping

# Logistic regression fitted by stochastic gradient descent: on GOP (110,000 TF-IDF columns)
# a fold took 2 s where lbfgs took 13 s (busy 2-core machine, one BLAS thread); alpha 3e-5
# is the regularisation of C=3 on GOP's training rows, and its held-out accuracy and log
# loss were better (0.710 and 0.724, against 0.700 and 0.763).
SGD_ALPHA = 3e-5
# Bump when the method changes, so cached tables of the old one are not reused.
METHOD_VERSION = 1
ISSUE_COLUMNS = [
    "row",
    "text",
    "given",
    "suggested",
    "given_probability",
    "suggested_probability",
    "label_quality",
]
ISSUE_DTYPES = {"row": "int64", "text": str, "given": str, "suggested": str}


def check_folds(frame: pd.DataFrame, labels: list[str], folds: int) -> None:
    """Refuse data whose classes have too few distinct texts for the folds.

    Args:
        frame: rows with `text` and `label`.
        labels: the label order.
        folds: the number of folds.

    Raises:
        DataError: a class has fewer distinct (normalised) texts than folds.
    """
    distinct = frame.assign(key=frame["text"].map(normalize_for_grouping))
    counts = distinct.groupby("label")["key"].nunique().reindex(labels, fill_value=0)
    small = counts[counts < folds]
    if not small.empty:
        listed = ", ".join(f"{label!r} ({n})" for label, n in small.items())
        raise DataError(
            f"Too few distinct texts to look for label errors in class {listed}: each class "
            f"needs at least {folds}, one per fold of the out-of-fold predictions. "
            "Add rows or remove the class."
        )


def out_of_fold_probabilities(
    texts: pd.Series, targets: np.ndarray, folds: int = config.LABEL_ISSUE_FOLDS, seed: int = 0
) -> np.ndarray:
    """Each row's class probabilities from a model fitted on the other folds.

    The TF-IDF vocabulary and weights are fitted once on all texts: they never see a label,
    so no label leaks; only the classifier is refitted per fold.

    Args:
        texts: raw texts.
        targets: class indices (0..K-1), one per text.
        folds: folds, grouped by normalised text so copies of a tweet share a fold.
        seed: the seed of the folds and of the classifier.

    Returns:
        Shape (rows, K), columns in class-index order.
    """
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    features = word_char_features().fit_transform(texts)
    classifier = SGDClassifier(
        loss="log_loss", alpha=SGD_ALPHA, class_weight="balanced", random_state=seed
    )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    groups = texts.map(normalize_for_grouping).to_numpy()
    return cross_val_predict(
        classifier, features, targets, groups=groups, cv=splitter, method="predict_proba"
    )


def find_label_issues(
    frame: pd.DataFrame,
    labels: list[str],
    folds: int = config.LABEL_ISSUE_FOLDS,
    seed: int = 0,
) -> pd.DataFrame:
    """Likely label errors of a labelled frame, worst first.

    Args:
        frame: rows with `text` and `label` (labels among `labels`).
        labels: the label order.
        folds: folds of the out-of-fold probabilities.
        seed: their seed.

    Returns:
        See `issues_from_probabilities`.
    """
    check_folds(frame, labels, folds)
    targets = label_indices(frame, labels)
    probabilities = out_of_fold_probabilities(frame["text"], targets, folds, seed)
    return issues_from_probabilities(frame, labels, probabilities)


def label_indices(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Each row's label as its index in `labels`."""
    return frame["label"].map({label: i for i, label in enumerate(labels)}).to_numpy()


def issues_from_probabilities(
    frame: pd.DataFrame, labels: list[str], probabilities: np.ndarray
) -> pd.DataFrame:
    """Confident learning on given out-of-fold probabilities.

    Args:
        frame: rows with `text` and `label`.
        labels: the label order.
        probabilities: out-of-fold probabilities, shape (rows, classes) in `labels` order.

    Returns:
        One row per likely error (ISSUE_COLUMNS): its position in `frame`, the text, the
        given label, the suggested one (the most probable other class), both labels'
        out-of-fold probabilities and cleanlab's label-quality score (lowest first).
    """
    from cleanlab.filter import find_label_issues as cleanlab_issues
    from cleanlab.rank import get_label_quality_scores

    targets = label_indices(frame, labels)
    # n_jobs=1: no worker processes inside a Streamlit server; it takes a fraction of a second.
    rows = cleanlab_issues(
        targets, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1
    )
    quality = get_label_quality_scores(targets, probabilities, method="self_confidence")
    others = probabilities.copy()
    others[np.arange(len(targets)), targets] = -1.0
    suggested = others[rows].argmax(axis=1)
    names = np.asarray(labels, dtype=object)
    return pd.DataFrame(
        {
            "row": rows.astype("int64"),
            "text": frame["text"].to_numpy()[rows],
            "given": names[targets[rows]],
            "suggested": names[suggested],
            "given_probability": probabilities[rows, targets[rows]],
            "suggested_probability": probabilities[rows, suggested],
            "label_quality": quality[rows],
        },
        columns=ISSUE_COLUMNS,
    )


def issue_settings(data: LabelledData, folds: int, seed: int) -> dict:
    """Everything that determines a data file's label issues, for the cache key."""
    import cleanlab
    import sklearn

    return {
        "data_sha256": data.sha256,
        "text_column": data.text_column,
        "label_column": data.label_column,
        "folds": folds,
        "seed": seed,
        "sgd_alpha": SGD_ALPHA,
        "method": METHOD_VERSION,
        "cleaning_rules": CLEANING_RULES,
        "cleanlab": cleanlab.__version__,
        "scikit-learn": sklearn.__version__,
    }


def cached_label_issues(
    data: LabelledData, folds: int = config.LABEL_ISSUE_FOLDS, seed: int = 0
) -> pd.DataFrame:
    """`find_label_issues` for a loaded data file, computed once and cached on disk.

    Args:
        data: validated data; `row` is a position in `data.frame`.
        folds: folds of the out-of-fold probabilities.
        seed: their seed.

    Returns:
        The likely label errors, worst first (see `find_label_issues`).
    """
    return cached_table(
        "label_issues",
        issue_settings(data, folds, seed),
        lambda: find_label_issues(data.frame, data.labels, folds, seed),
        ISSUE_DTYPES,
    )
