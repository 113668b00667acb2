"""Feedback: predictions users marked as wrong, with the right label, in an append-only CSV."""

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from filelock import FileLock

from pipeline import config
from pipeline.errors import DataError

COLUMNS = ["timestamp", "text", "predicted_label", "correct_label", "model_version"]


def record_feedback(
    text: str,
    predicted_label: str,
    correct_label: str,
    model_version: str | None,
    path: str | os.PathLike | None = None,
) -> None:
    """Append one corrected prediction.

    Each row is formatted first and written with one call under a file lock, so sessions
    writing at once never interleave or lose rows.

    Args:
        text: the text that was classified.
        predicted_label: what the model said.
        correct_label: what the user says it is.
        model_version: the version that made the prediction.
        path: the feedback file; default config.feedback_path().
    """
    if not text.strip():
        raise DataError("Empty texts cannot be recorded as feedback.")
    path = Path(path or config.feedback_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    row = io.StringIO()
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    csv.writer(row).writerow([timestamp, text, predicted_label, correct_label, model_version or ""])
    with FileLock(str(path) + ".lock", timeout=30):
        new_file = not path.exists() or path.stat().st_size == 0
        with open(path, "a", encoding="utf-8", newline="") as handle:
            if new_file:
                csv.writer(handle).writerow(COLUMNS)
            handle.write(row.getvalue())
            handle.flush()
            os.fsync(handle.fileno())


def read_feedback(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """All recorded feedback, oldest first (an empty frame when there is none).

    Args:
        path: the feedback file; default config.feedback_path().

    Returns:
        A frame with COLUMNS, every cell a string.
    """
    path = Path(path or config.feedback_path())
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype=str, keep_default_na=False)
