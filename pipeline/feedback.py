"""Feedback: predictions users marked as wrong, with the right label.

Where it lives follows the models (config.feedback_location): a local append-only CSV
beside a local registry, or, when the models live at a URL, one small JSON object per row
under `<models URL>/feedback/`, so feedback outlives the machine and replicas share it.
Object stores cannot append, and one object per row never loses a concurrent write.
The store holds at most FEEDBACK_ROWS_TOTAL rows, so an anonymous script cannot fill it.
"""

import csv
import io
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from filelock import FileLock

from pipeline import config
from pipeline.errors import DataError, RateLimited, StoreUnavailable

COLUMNS = ["timestamp", "text", "predicted_label", "correct_label", "model_version"]


def record_feedback(
    text: str,
    predicted_label: str,
    correct_label: str,
    model_version: str | None,
    path: str | os.PathLike | None = None,
) -> None:
    """Store one corrected prediction.

    Args:
        text: the text that was classified.
        predicted_label: what the model said.
        correct_label: what the user says it is.
        model_version: the version that made the prediction.
        path: a CSV file or an fsspec URL prefix; default config.feedback_location().

    Raises:
        DataError: an empty text. RateLimited: the store is full (FEEDBACK_ROWS_TOTAL).
    """
    if not text.strip():
        raise DataError("Empty texts cannot be recorded as feedback.")
    timestamp = datetime.now(UTC).isoformat(timespec="seconds")
    row = [timestamp, text, predicted_label, correct_label, model_version or ""]
    location = str(path or config.feedback_location())
    if config.is_url(location):
        _ObjectFeedback(location).add(row)
    else:
        _append_csv(Path(location), row)


def read_feedback(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """All recorded feedback, oldest first (an empty frame when there is none).

    Args:
        path: a CSV file or an fsspec URL prefix; default config.feedback_location().

    Returns:
        A frame with COLUMNS, every cell a string.
    """
    location = str(path or config.feedback_location())
    if config.is_url(location):
        rows = _ObjectFeedback(location).rows()
        return pd.DataFrame(rows, columns=COLUMNS).astype(str)
    path = Path(location)
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _full(rows: int) -> None:
    cap = config.limit("FEEDBACK_ROWS_TOTAL")
    if rows >= cap:
        raise RateLimited(
            f"The feedback store is full ({cap:,} rows); an administrator can retrain on it "
            "and clear it.",
            retry_after=3600,
        )


def _append_csv(path: Path, row: list[str]) -> None:
    """One row, formatted first and written with one call under a file lock, so sessions
    writing at once never interleave or lose rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = io.StringIO()
    csv.writer(line).writerow(row)
    with FileLock(str(path) + ".lock", timeout=30):
        new_file = not path.exists() or path.stat().st_size == 0
        if not new_file:
            with open(path, encoding="utf-8", newline="") as handle:
                _full(sum(1 for _ in csv.reader(handle)) - 1)
        with open(path, "a", encoding="utf-8", newline="") as handle:
            if new_file:
                csv.writer(handle).writerow(COLUMNS)
            handle.write(line.getvalue())
            handle.flush()
            os.fsync(handle.fileno())


class _ObjectFeedback:
    """Feedback rows as objects <prefix>/<timestamp>-<random>.json at an fsspec URL."""

    def __init__(self, url: str):
        from pipeline.registry.objects import ObjectStore

        self.store = ObjectStore(url)  # its file system, options and error messages
        self.fs, self.root = self.store.fs, self.store.root

    def _keys(self) -> list[str]:
        try:
            return sorted(self.store.call("read feedback", self.fs.glob, f"{self.root}/*.json"))
        except FileNotFoundError:
            return []

    def add(self, row: list[str]) -> None:
        _full(len(self._keys()))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        key = f"{self.root}/{stamp}-{secrets.token_hex(4)}.json"
        body = json.dumps(dict(zip(COLUMNS, row, strict=True))).encode("utf-8")
        self.store.call("store feedback", self.fs.pipe_file, key, body)

    def rows(self) -> list[list[str]]:
        keys = self._keys()
        if not keys:
            return []
        try:
            blobs = self.store.call("read feedback", self.fs.cat, keys)
        except FileNotFoundError as exc:  # deleted while being read
            raise StoreUnavailable(f"Feedback changed while it was read: {exc}") from exc
        return [[json.loads(blobs[k]).get(c, "") for c in COLUMNS] for k in keys]
