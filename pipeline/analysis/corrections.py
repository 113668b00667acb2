"""A corrected copy of a data file: marked rows relabelled or dropped, never the original.

The copy keeps every column of the source; only the label column of relabelled rows
changes, and dropped rows are left out. It goes to config.corrected_data_dir() (data/
corrected/), named after the source and a short hash of the source and the marks, with a
record of the changes beside it (<copy>.changes.json). The Retrain tab lists the copies
as data sets, and `train.py --data data/corrected/<copy>.csv` trains on one.

Rows are named by their position in the data as loaded (`LabelledData.frame`, the `row`
of the label checks): the file's data rows in order, less any without a text or a label.
"""

import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.csvfile import CsvSource, read_csv
from pipeline.data import LabelledData, load_labelled_data, normalize_label
from pipeline.errors import DataError

# A mark's value: a label to relabel the row to, or DROP to leave it out.
DROP = None
COPY_MARK = ".corrected-"
RECORD_SUFFIX = ".changes.json"
DIGEST_CHARS = 10
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class CorrectedCopy:
    """Where a corrected copy was written, and what changed."""

    path: Path
    record: Path
    relabelled: int
    dropped: int
    rows: int


def record_path(copy: Path) -> Path:
    """The record of changes beside a corrected copy: <name>.changes.json."""
    return copy.with_name(copy.stem + RECORD_SUFFIX)


def copy_name(source_name: str, source_sha256: str, marks: dict) -> str:
    """The copy's file name: the source's name (without an earlier copy's hash) and a hash.

    Args:
        source_name: the source file's name.
        source_sha256: its SHA-256, so the same marks on another file get another name.
        marks: row -> label or DROP.

    Returns:
        e.g. "Sentiment.corrected-3f9a0c1b2d.csv".
    """
    stem = _UNSAFE_NAME.sub("_", Path(source_name).stem).split(COPY_MARK)[0] or "data"
    content = json.dumps([source_sha256, sorted((int(r), label) for r, label in marks.items())])
    return f"{stem}{COPY_MARK}{hashlib.sha256(content.encode()).hexdigest()[:DIGEST_CHARS]}.csv"


def check_marks(marks: dict, data: LabelledData) -> dict[int, str | None]:
    """Validate marks against the data; labels are normalised as the loader does.

    Args:
        marks: row position -> a label of the data, or DROP.
        data: the loaded data.

    Returns:
        The marks with int rows and normalised labels.

    Raises:
        DataError: no marks, a row out of range, or a label the data does not have.
    """
    if not marks:
        raise DataError("Nothing is marked: choose relabel or drop for at least one row.")
    checked = {}
    for row, label in marks.items():
        if not 0 <= int(row) < len(data.frame):
            raise DataError(f"Row {row} is not in {data.source} (rows 0 to {len(data.frame) - 1}).")
        label = DROP if label is DROP else normalize_label(label)
        if label is not DROP and label not in data.labels:
            raise DataError(
                f"Row {row} cannot be relabelled to {label!r}: {data.source}'s labels are "
                f"{', '.join(data.labels)}."
            )
        checked[int(row)] = label
    return checked


def file_positions(raw: pd.DataFrame, data: LabelledData) -> np.ndarray:
    """The file row of each row of the loaded data (the loader leaves out empty ones).

    Args:
        raw: the file as read (`pipeline.csvfile.read_csv`).
        data: the same file loaded.

    Returns:
        For each position in `data.frame`, the position in `raw`.
    """
    texts, labels = raw[data.text_column], raw[data.label_column]
    kept = (texts.str.strip() != "") & (labels.map(normalize_label) != "")
    positions = np.flatnonzero(kept.to_numpy())
    if len(positions) != len(data.frame) or not np.array_equal(
        texts.to_numpy()[positions], data.frame["text"].to_numpy()
    ):
        raise DataError(f"{data.source} changed while it was read. Try again.")
    return positions


def label_spellings(values: pd.Series) -> dict[str, str]:
    """The file's most common spelling of each label: {"negative": "Negative"}."""
    spellings: dict[str, str] = {}
    for value in values.value_counts().index:  # most common first
        spellings.setdefault(normalize_label(value), value)
    return spellings


def apply_marks(raw: pd.DataFrame, data: LabelledData, marks: dict) -> pd.DataFrame:
    """The file's rows with the marks applied: labels changed in place, dropped rows gone."""
    positions = file_positions(raw, data)
    spellings = label_spellings(raw[data.label_column])
    corrected = raw.copy()
    column = corrected.columns.get_loc(data.label_column)
    for row, label in marks.items():
        if label is not DROP:
            corrected.iat[positions[row], column] = spellings.get(label, label)
    dropped = [positions[row] for row, label in marks.items() if label is DROP]
    return corrected.drop(index=corrected.index[dropped]).reset_index(drop=True)


def change_record(data: LabelledData, marks: dict, copy: Path, payload: bytes, rows: int) -> dict:
    """What the record beside a copy says: its source, columns and every change."""
    changes = [
        {
            "row": row,
            "text": data.frame["text"].iat[row],
            "from": data.frame["label"].iat[row],
            "action": "drop" if label is DROP else "relabel",
            "to": label,
        }
        for row, label in sorted(marks.items())
    ]
    return {
        "copy": copy.name,
        "source": data.source,
        "source_sha256": data.sha256,
        "copy_sha256": hashlib.sha256(payload).hexdigest(),
        "text_column": data.text_column,
        "label_column": data.label_column,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows_before": data.rows_read,
        "rows_after": rows,
        "relabelled": sum(label is not DROP for label in marks.values()),
        "dropped": sum(label is DROP for label in marks.values()),
        "changes": changes,
    }


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write a file under a temporary name first, so no reader sees half of it."""
    temp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    temp.write_bytes(payload)
    temp.replace(path)


def write_corrected_copy(
    source: CsvSource,
    marks: dict,
    text_column: str = config.DEFAULT_TEXT_COLUMN,
    label_column: str = config.DEFAULT_LABEL_COLUMN,
    name: str | None = None,
) -> CorrectedCopy:
    """Write a corrected copy of a data file, and the record of its changes beside it.

    Args:
        source: the data file's path, or an upload's bytes.
        marks: row position (as in the label checks) -> a label to relabel it to, or DROP.
        text_column: the column holding the texts.
        label_column: the column holding the labels.
        name: an upload's file name; default the file's name.

    Returns:
        Where the copy and its record are, and how many rows changed.

    Raises:
        DataError: bad marks, a copy that would replace its source, or one that would not
            load as training data (e.g. a class dropped below the minimum).
    """
    data = load_labelled_data(source, text_column, label_column, name=name)
    marks = check_marks(marks, data)
    raw, _, _ = read_csv(source, name=name)
    folder = config.corrected_data_dir()
    path = folder / copy_name(data.source, data.sha256, marks)
    if not isinstance(source, bytes) and Path(source).resolve() == path.resolve():
        raise DataError(f"Refusing to overwrite the original {data.source}.")
    corrected = apply_marks(raw, data, marks)
    payload = corrected.to_csv(index=False).encode("utf-8")
    try:
        load_labelled_data(payload, text_column, label_column, name=path.name)
    except DataError as exc:
        raise DataError(f"The corrected copy would not be usable as training data: {exc}") from exc
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, payload)
    record = change_record(data, marks, path, payload, len(corrected))
    _write_atomically(record_path(path), json.dumps(record, indent=1).encode("utf-8"))
    return CorrectedCopy(
        path, record_path(path), record["relabelled"], record["dropped"], len(corrected)
    )


def list_corrected_copies() -> list[Path]:
    """The corrected copies in config.corrected_data_dir(), newest first."""
    folder = config.corrected_data_dir()
    if not folder.is_dir():
        return []
    copies = [p for p in folder.glob(f"*{COPY_MARK}*.csv") if p.is_file()]
    return sorted(copies, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def data_columns(path: str | Path) -> tuple[str, str]:
    """The text and label columns of a data file: a corrected copy's from its record.

    Args:
        path: a data file.

    Returns:
        (text column, label column); the defaults when the file has no readable record.
    """
    try:
        record = json.loads(record_path(Path(path)).read_text(encoding="utf-8"))
        return str(record["text_column"]), str(record["label_column"])
    except (OSError, ValueError, KeyError, TypeError):
        return config.DEFAULT_TEXT_COLUMN, config.DEFAULT_LABEL_COLUMN


def display_path(path: Path) -> str:
    """A path as the app shows it: relative to the project when inside it."""
    try:
        return path.resolve().relative_to(config.PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def source_chain(sha256: str) -> list[str]:
    """A file's SHA-256, then, if it is a corrected copy, its source's, and so on back.

    From the records of the copies in config.corrected_data_dir(); a copy made elsewhere
    is not known here.

    Args:
        sha256: a data file's SHA-256.

    Returns:
        [sha256, its source's, that one's source's, ...].
    """
    folder = config.corrected_data_dir()
    sources = {}
    for path in folder.glob(f"*{RECORD_SUFFIX}") if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            sources[str(record["copy_sha256"])] = str(record["source_sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable record tells nothing
    chain = [sha256]
    while chain[-1] in sources and sources[chain[-1]] not in chain:
        chain.append(sources[chain[-1]])
    return chain
