"""Accuracy and macro-F1 on slices of a version's test predictions, worst first.

Slices: text length (in words), retweet or not, with or without a URL, a hashtag or a
mention, and each value of the data's other columns kept for slicing (for example GOP's
`candidate`; see pipeline.data.find_slice_columns).
"""

import re

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from pipeline.analysis.predictions import COLUMN_PREFIX

# Word-count buckets: (upper bound inclusive, name).
LENGTH_BUCKETS = ((8, "1-8 words"), (16, "9-16 words"), (24, "17-24 words"))
LONGEST_BUCKET = "25+ words"
# A slice with fewer test rows than this says little; it is left out.
MIN_SLICE_ROWS = 10
FEATURES = {
    "retweet": re.compile(r"^\s*rt\b|\brt @", re.IGNORECASE),
    "URL": re.compile(r"https?://|www\.", re.IGNORECASE),
    "hashtag": re.compile(r"#\w"),
    "mention": re.compile(r"@\w"),
}


def length_bucket(text: str) -> str:
    """The word-count bucket of a text."""
    words = len(text.split())
    return next((name for bound, name in LENGTH_BUCKETS if words <= bound), LONGEST_BUCKET)


def slice_keys(predictions: pd.DataFrame) -> dict[str, pd.Series]:
    """For each way of slicing, the slice each row falls in."""
    texts = predictions["text"].astype(str)
    keys = {"length": texts.map(length_bucket)}
    for name, pattern in FEATURES.items():
        has = texts.map(lambda text, p=pattern: bool(p.search(text)))
        keys[name] = has.map({True: f"with {name}", False: f"without {name}"})
    for column in predictions.columns:
        if column.startswith(COLUMN_PREFIX):
            keys[column.removeprefix(COLUMN_PREFIX)] = predictions[column].replace("", "(empty)")
    return keys


def slice_metrics(
    predictions: pd.DataFrame, labels: list[str], min_rows: int = MIN_SLICE_ROWS
) -> pd.DataFrame:
    """Accuracy and macro-F1 of every slice with at least `min_rows` rows, worst first.

    Args:
        predictions: a version's test predictions (pipeline.analysis.predictions).
        labels: the label order (macro-F1 averages over these).
        min_rows: smaller slices are left out.

    Returns:
        Columns: by, slice, rows, accuracy, macro_f1, and each figure's difference from the
        whole test part (accuracy_gap, macro_f1_gap); sorted by accuracy, then macro-F1.
    """
    overall_accuracy = accuracy_score(predictions["label"], predictions["predicted"])
    overall_f1 = f1_score(
        predictions["label"], predictions["predicted"], labels=labels, average="macro",
        zero_division=0,
    )  # fmt: skip
    rows = []
    for by, key in slice_keys(predictions).items():
        for value, part in predictions.groupby(key, sort=True):
            if len(part) < min_rows:
                continue
            accuracy = accuracy_score(part["label"], part["predicted"])
            macro_f1 = f1_score(
                part["label"], part["predicted"], labels=sorted(set(part["label"])),
                average="macro", zero_division=0,
            )  # fmt: skip
            rows.append(
                {
                    "by": by,
                    "slice": str(value),
                    "rows": len(part),
                    "accuracy": accuracy,
                    "macro_f1": macro_f1,
                    "accuracy_gap": accuracy - overall_accuracy,
                    "macro_f1_gap": macro_f1 - overall_f1,
                }
            )
    columns = ["by", "slice", "rows", "accuracy", "macro_f1", "accuracy_gap", "macro_f1_gap"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["accuracy", "macro_f1"], kind="stable").reset_index(drop=True)
