"""Describing a labelled data set: class balance, text lengths, duplicates and retweets."""

import pandas as pd

from pipeline.text import normalize_for_grouping

RETWEET_PATTERN = r"^\s*RT\s+@\w+"


def describe_dataset(frame: pd.DataFrame, labels: list[str], samples_per_class: int = 5) -> dict:
    """Summarise a validated data set (columns `text` and `label`).

    Args:
        frame: the data, as LabelledData.frame.
        labels: the label order.
        samples_per_class: how many example rows to draw for each class.

    Returns:
        class_counts (a Series in label order), lengths (characters per text), the shares
        of duplicate texts and of retweets, and `samples` {label: DataFrame}.
    """
    keys = frame["text"].map(normalize_for_grouping)
    samples = {
        label: group.sample(min(samples_per_class, len(group)), random_state=0)[["text"]]
        for label, group in frame.groupby("label")
    }
    return {
        "rows": len(frame),
        "class_counts": frame["label"].value_counts().reindex(labels, fill_value=0),
        "lengths": frame["text"].str.len(),
        "duplicate_share": float(keys.duplicated().mean()),
        "retweet_share": float(frame["text"].str.contains(RETWEET_PATTERN, case=False).mean()),
        "distinct_texts": int(keys.nunique()),
        "samples": {label: samples[label] for label in labels if label in samples},
    }
