"""Load a labelled CSV, validate it, and split it into train / validation / test without leakage."""

import codecs
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.errors import DataError
from pipeline.text import normalize_for_grouping

# Encodings tried in order after the byte-order marks; latin-1 decodes any byte, so it is last.
FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


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


def read_bytes(source: str | Path | bytes) -> tuple[bytes, str]:
    """Read a file's raw bytes.

    Args:
        source: a path, or the bytes of an uploaded file.

    Returns:
        The bytes and a display name for the source.
    """
    if isinstance(source, bytes):
        return source, "uploaded file"
    path = Path(source)
    if not path.is_file():
        raise DataError(f"Data file not found: {path}. Check the path, or see data/README.md.")
    return path.read_bytes(), path.name


def _blocks(source: str | Path | bytes, size: int = 1 << 20):
    if isinstance(source, bytes):
        yield source
        return
    with open(source, "rb") as handle:
        while block := handle.read(size):
            yield block


def detect_encoding(source: str | Path | bytes, name: str = "the file") -> str:
    """Find a file's encoding: a byte-order mark, else UTF-8, else a Western fallback.

    The file is read in blocks, so a large one is never held in memory.

    Args:
        source: a path, or a file's bytes.
        name: how to call the file in error messages.

    Returns:
        An encoding name that decodes the whole file.
    """
    head = next(_blocks(source, 4), b"")
    boms = [enc for bom, enc in _BOMS if head.startswith(bom)]
    for encoding in boms or FALLBACK_ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for block in _blocks(source):
                if "\x00" in decoder.decode(block):
                    raise DataError(
                        f"{name} looks like a binary file, not a CSV. "
                        "Use a comma-separated text file."
                    )
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise DataError(f"Could not decode {name} as {', '.join(boms)}. Save it as UTF-8.")


def decode_csv_bytes(raw: bytes, name: str = "the file") -> str:
    """Decode CSV bytes with the encoding `detect_encoding` finds.

    Args:
        raw: the file's bytes.
        name: how to call the file in error messages.

    Returns:
        The decoded text.
    """
    return raw.decode(detect_encoding(raw, name))


def parse_csv(text: str, name: str = "the file", max_rows: int | None = None) -> pd.DataFrame:
    """Parse CSV text into a frame of strings, keeping empty cells as "".

    Args:
        text: decoded CSV text with a header line.
        name: how to call the file in error messages.
        max_rows: read at most this many rows plus one, so an oversized file is detected
            without holding all of it.

    Returns:
        The parsed frame; every cell is a string.
    """
    if not text.strip():
        raise DataError(f"{name} is empty. It needs a header line and at least one row.")
    try:
        header = next(iter(pd.read_csv(io.StringIO(text), header=None, nrows=1, dtype=str).values))
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            nrows=None if max_rows is None else max_rows + 1,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{name} is not a readable CSV: {first_line}") from exc
    names = [str(h) for h in header]
    duplicates = sorted({h for h in names if names.count(h) > 1})
    if duplicates:
        raise DataError(f"{name} has duplicate column names: {', '.join(duplicates)}. Rename them.")
    return frame


def read_csv(
    source: str | Path | bytes, max_rows: int | None = None
) -> tuple[pd.DataFrame, str, str]:
    """Read any CSV file or upload into a frame of strings.

    Args:
        source: a path, or the bytes of an uploaded file.
        max_rows: see `parse_csv`.

    Returns:
        The frame, the source's display name and its SHA-256.
    """
    raw, name = read_bytes(source)
    frame = parse_csv(decode_csv_bytes(raw, name), name, max_rows)
    return frame, name, hashlib.sha256(raw).hexdigest()


def require_columns(frame: pd.DataFrame, columns: list[str], name: str = "the file") -> None:
    """Raise a DataError naming the columns that are present if any wanted one is missing.

    Args:
        frame: the parsed CSV.
        columns: the column names that must exist.
        name: how to call the file in error messages.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns))
        raise DataError(
            f"{name} has no column {', '.join(map(repr, missing))}. Columns present: {present}."
        )


def normalize_label(label: str) -> str:
    """Labels are compared without surrounding spaces or case: " Positive" is "positive"."""
    return " ".join(str(label).split()).lower()


def load_labelled_data(
    source: str | Path | bytes,
    text_column: str = config.DEFAULT_TEXT_COLUMN,
    label_column: str = config.DEFAULT_LABEL_COLUMN,
    max_rows: int = config.MAX_TRAINING_ROWS,
    min_rows_per_class: int = config.MIN_ROWS_PER_CLASS,
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

    Returns:
        The validated data.
    """
    frame, name, sha256 = read_csv(source, max_rows=max_rows)
    if len(frame) > max_rows:
        raise DataError(
            f"{name} has more than {max_rows:,} rows, the configured cap. "
            "Use a smaller sample of it."
        )
    require_columns(frame, [text_column, label_column], name)
    data = pd.DataFrame(
        {"text": frame[text_column], "label": frame[label_column].map(normalize_label)}
    )
    keep = (data["text"].str.strip() != "") & (data["label"] != "")
    data = data[keep].reset_index(drop=True)
    if data.empty:
        raise DataError(f"{name} has no row with both a text and a label.")
    counts = data["label"].value_counts()
    if len(counts) < 2:
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
    )


def _hold_out(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    rest, test = _hold_out(data.frame, test_share, seed)
    train, validation = _hold_out(rest, validation_share / (1 - test_share), seed)
    return Splits(
        train=train.reset_index(drop=True),
        validation=validation.reset_index(drop=True),
        test=test.reset_index(drop=True),
        seed=seed,
    )
