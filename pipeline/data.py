"""Load a labelled CSV, validate it, and split it into train / validation / test without leakage."""

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.csvfile import read_csv, require_columns
from pipeline.errors import DataError
from pipeline.text import normalize_for_grouping


@dataclass
class LabelledData:
    """Validated training data: one `text` and one `label` column, labels in a fixed order."""

    frame: pd.DataFrame
    labels: list[str]
    source: str
    sha256: str
    text_column: str
    label_column: str
    rows_read: int
    rows_dropped: int
    slice_columns: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """Summarise the data for a model's metadata.

        Returns:
            The file name, its SHA-256, the columns used and the row counts.
        """
        return {
            "name": self.source,
            "sha256": self.sha256,
            "text_column": self.text_column,
            "label_column": self.label_column,
            "rows_read": self.rows_read,
            "rows_dropped_empty": self.rows_dropped,
            "rows_used": len(self.frame),
            "class_counts": self.frame["label"].value_counts().reindex(self.labels).tolist(),
            "slice_columns": self.slice_columns,
        }


@dataclass
class Splits:
    """The three parts of a leakage-free split."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    seed: int
    sizes: dict = field(init=False)

    def __post_init__(self):
        self.sizes = {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


# What the data sets this project knows by checksum hold, for a model's statement of scope.
KNOWN_DATA = {
    "83beb7691f876f9a762613e7c262f7a777a529cccfb96478089e912f1292c61c": (
        "English tweets about the first 2015 US Republican primary debate"
    ),
    "cfd5ef56c22591695d25cb29828aef557d0118cabfa6ede4482a593a786f0443": (
        "English tweet-like sentences about a primary debate, written for this project"
    ),
}


def data_scope(described: dict) -> str:
    """What a model learned from, in words, from its metadata's `data` (see `describe`).

    Args:
        described: a version's `data` entry.

    Returns:
        e.g. "English tweets about the first 2015 US Republican primary debate (13,871
        rows of Sentiment.csv)".
    """
    name, rows = described.get("name", "its data"), described.get("rows_used")
    what = KNOWN_DATA.get(described.get("sha256", ""), f"the texts of {name}")
    count = f"{rows:,} rows of {name}" if rows else name
    return f"{what} ({count})"


def normalize_label(label: str) -> str:
    """Labels are compared without surrounding spaces or case: " Positive" is "positive"."""
    return " ".join(str(label).split()).lower()


def load_labelled_data(
    source: str | Path | bytes,
    text_column: str = config.DEFAULT_TEXT_COLUMN,
    label_column: str = config.DEFAULT_LABEL_COLUMN,
    max_rows: int = config.MAX_TRAINING_ROWS,
    min_rows_per_class: int = config.MIN_ROWS_PER_CLASS,
    name: str | None = None,
) -> LabelledData:
    """Load and validate a labelled CSV for training.

    Rows with an empty text or label are dropped and counted. Labels are normalised
    (see `normalize_label`) and ordered alphabetically; that order is stored with the model.

    Args:
        source: a path, or the bytes of an uploaded file.
        text_column: the column holding the texts.
        label_column: the column holding the labels.
        max_rows: the largest number of rows accepted.
        min_rows_per_class: the fewest rows a class needs to be split three ways.
        name: how to call the source in messages and metadata (an upload's file name);
            default the file's name.

    Returns:
        The validated data.
    """
    frame, name, sha256 = read_csv(source, max_rows=max_rows, name=name)
    if len(frame) > max_rows:
        raise DataError(
            f"{name} has more than {max_rows:,} rows, the cap for training data. "
            "Use a smaller sample of it."
        )
    return labelled_data(frame, name, sha256, text_column, label_column, 2, min_rows_per_class)


def labelled_data(
    frame: pd.DataFrame,
    name: str,
    sha256: str,
    text_column: str,
    label_column: str,
    min_classes: int,
    min_rows_per_class: int,
) -> LabelledData:
    """Validate a CSV already read (see `load_labelled_data`, which adds the row cap).

    Args:
        frame: the CSV as read by pipeline.csvfile.read_csv.
        name: how to call it in messages and metadata.
        sha256: the file's SHA-256.
        text_column: the column holding the texts.
        label_column: the column holding the labels.
        min_classes: the fewest distinct labels (training needs 2; scoring a version on
            labelled data, 1).
        min_rows_per_class: the fewest rows each class needs.

    Returns:
        The validated data.
    """
    require_columns(frame, [text_column, label_column], name)
    data = pd.DataFrame(
        {"text": frame[text_column], "label": frame[label_column].map(normalize_label)}
    )
    slice_columns = find_slice_columns(frame, [text_column, label_column])
    for column in slice_columns:
        data[column] = frame[column].fillna("").astype(str).str.strip()
    keep = (data["text"].str.strip() != "") & (data["label"] != "")
    data = data[keep].reset_index(drop=True)
    if data.empty:
        raise DataError(f"{name} has no row with both a text and a label.")
    counts = data["label"].value_counts()
    if len(counts) < min_classes:
        raise DataError(
            f"{name} has only one class ({counts.index[0]!r}) in column {label_column!r}. "
            "Training needs at least 2."
        )
    small = counts[counts < min_rows_per_class]
    if not small.empty:
        listed = ", ".join(f"{label!r} ({n})" for label, n in small.items())
        raise DataError(
            f"Too few rows to split for class {listed}: each class needs at least "
            f"{min_rows_per_class} rows. Add rows or remove the class."
        )
    return LabelledData(
        frame=data,
        labels=sorted(counts.index),
        source=name,
        sha256=sha256,
        text_column=text_column,
        label_column=label_column,
        rows_read=len(frame),
        rows_dropped=len(frame) - len(data),
        slice_columns=slice_columns,
    )


def find_slice_columns(frame: pd.DataFrame, used: list[str]) -> list[str]:
    """The CSV's other columns that group rows into a few named slices (e.g. GOP's `candidate`).

    A column qualifies when it has 2 to config.MAX_SLICE_VALUES distinct non-empty values;
    error analysis (pipeline.analysis.slices) reports accuracy for each value.

    Args:
        frame: the CSV as read.
        used: the text and label columns, never slices.

    Returns:
        Up to config.MAX_SLICE_COLUMNS column names, in the file's order.
    """
    found = []
    for column in frame.columns:
        if column in used or column in ("text", "label") or not isinstance(column, str):
            continue
        values = frame[column].dropna().astype(str).str.strip()
        if 2 <= values[values != ""].nunique() <= config.MAX_SLICE_VALUES:
            found.append(column)
    return found[: config.MAX_SLICE_COLUMNS]


def hold_out(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off about `share` of the rows, grouped by normalised text and stratified by label."""
    # Imported here: serving never splits, and scikit-learn costs a second at start-up.
    from sklearn.model_selection import StratifiedGroupKFold

    groups = frame["text"].map(normalize_for_grouping)
    n_splits = max(2, round(1 / share))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    keep_index, held_index = next(folds.split(frame["text"], frame["label"], groups))
    return frame.iloc[keep_index], frame.iloc[held_index]


def split_data(
    data: LabelledData,
    seed: int,
    validation_share: float = config.VALIDATION_SHARE,
    test_share: float = config.TEST_SHARE,
) -> Splits:
    """Split into train / validation / test so that copies of one tweet share a side.

    Args:
        data: validated data.
        seed: the random seed of the split.
        validation_share: about this share of rows goes to validation.
        test_share: about this share of rows goes to test.

    Returns:
        The three parts.
    """
    rest, test = hold_out(data.frame, test_share, seed)
    train, validation = hold_out(rest, validation_share / (1 - test_share), seed)
    return Splits(
        train=train.reset_index(drop=True),
        validation=validation.reset_index(drop=True),
        test=test.reset_index(drop=True),
        seed=seed,
    )
