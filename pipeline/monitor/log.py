"""The prediction log: what the model was asked and what it answered, for monitoring.

Off by default. The setting `SENTIMENT_PREDICTION_LOG` (an environment variable, or a
root-level entry of the app's secrets, which Streamlit puts into the environment) turns it on:

- `texts`: each record keeps the text;
- `hashes`: each record keeps only the text's SHA-256, for deployments that may not keep
  what people typed (the Monitor view then cannot judge text drift, and says so).

The dashboard, the REST API and batch scoring (`python -m pipeline predict`) each append
records: UTC time, version, source, text (or None), its SHA-256, the predicted label, the
confidence and every class's probability.

The log lives beside the registry, under `<models>/.predictions/`:

- a local folder: one JSON-lines file, `log.jsonl`, appended under a file lock, so writers
  in several processes never interleave or lose a line;
- object storage (s3://...): objects cannot be appended to, so each flush writes a new,
  immutable segment `<UTC time>-<random>.jsonl` that nobody else can name, and readers
  concatenate them. Concurrent writers lose nothing; a reboot loses only what was not
  flushed yet (at most FLUSH_SECONDS of records).

Appending never waits for storage: `PredictionLog.append` puts records in memory and a
background thread writes them (at once when MAX_BUFFERED are waiting, else every
FLUSH_SECONDS). `flush` writes what is waiting and returns when it is stored; readers in the
same process call it first. bench/prediction_log.py measures what appending costs the
Predict path.
"""

import atexit
import hashlib
import json
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from pipeline import config
from pipeline.errors import DataError, StoreUnavailable

logger = logging.getLogger(__name__)

SETTING_ENV = "SENTIMENT_PREDICTION_LOG"
MODES = ("off", "texts", "hashes")
LOG_DIR = ".predictions"
LOCAL_FILE = "log.jsonl"
SOURCES = ("dashboard", "api", "batch")
FLUSH_SECONDS = 2.0
MAX_BUFFERED = 500
# The columns of a read log (and of its CSV export): `prob_<label>` columns follow, one per
# class, as in a version's saved predictions (pipeline.analysis.predictions).
COLUMNS = ["time", "version", "source", "text", "text_sha256", "predicted", "confidence"]


def log_mode() -> str:
    """The prediction log's setting: "off" (the default), "texts" or "hashes".

    Raises:
        DataError: the setting names no mode.
    """
    mode = os.environ.get(SETTING_ENV, "off").strip().lower() or "off"
    if mode not in MODES:
        raise DataError(
            f"{SETTING_ENV} is {mode!r}; it can be one of {', '.join(MODES)} (off by default)."
        )
    return mode


def log_location(models_dir: str | os.PathLike | None = None) -> str:
    """Where the log lives: `<models>/.predictions`, a folder or a URL prefix."""
    models = config.models_dir(models_dir)
    return f"{models}/{LOG_DIR}" if config.is_url(models) else str(Path(models) / LOG_DIR)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_records(
    texts: Sequence[str],
    probabilities: np.ndarray,
    labels: Sequence[str],
    version: str,
    source: str,
    keep_texts: bool,
) -> list[dict]:
    """One record per text, stamped now.

    Args:
        texts: the texts as the model received them.
        probabilities: shape (texts, classes), in `labels` order.
        labels: the version's label order.
        version: the version that answered.
        source: one of SOURCES.
        keep_texts: False keeps only each text's SHA-256.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    probabilities = np.asarray(probabilities, dtype="float64")
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    records = []
    for text, row in zip(texts, probabilities, strict=True):
        best = int(row.argmax())
        records.append(
            {
                "time": now,
                "version": version,
                "source": source,
                "text": text if keep_texts else None,
                "text_sha256": text_sha256(text),
                "predicted": labels[best],
                "confidence": float(row[best]),
                "probabilities": {label: float(p) for label, p in zip(labels, row, strict=True)},
            }
        )
    return records


class _LocalLog:
    """`<folder>/log.jsonl`, appended under a file lock."""

    def __init__(self, folder: str):
        self.path = Path(folder) / LOCAL_FILE

    def write(self, lines: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path) + ".lock", timeout=30)
        with lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[str]:
        if not self.path.is_file():
            return []
        with FileLock(str(self.path) + ".lock", timeout=30):
            return [self.path.read_text(encoding="utf-8")]


class _ObjectLog:
    """Immutable segments `<prefix>/<UTC time>-<random>.jsonl` at an fsspec URL."""

    def __init__(self, url: str):
        from pipeline.registry.objects import ObjectStore

        self.store = ObjectStore(url)  # its file system, options and error messages
        self.fs, self.root = self.store.fs, self.store.root
        self._cache: dict[str, str] = {}  # segments never change once written

    def write(self, lines: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        key = f"{self.root}/{stamp}-{secrets.token_hex(4)}.jsonl"
        self.store.call("write the prediction log", self.fs.pipe_file, key, lines.encode())

    def read(self) -> list[str]:
        try:
            self.fs.invalidate_cache(self.root)
            keys = sorted(
                self.store.call("read the prediction log", self.fs.glob, f"{self.root}/*.jsonl")
            )
        except FileNotFoundError:
            return []
        missing = [key for key in keys if key not in self._cache]
        if missing:
            blobs = self.store.call("read the prediction log", self.fs.cat, missing)
            self._cache.update({key: blob.decode("utf-8") for key, blob in blobs.items()})
        return [self._cache[key] for key in keys]


class PredictionLog:
    """Appends prediction records to the log at one location, from a background thread.

    Args:
        location: a folder or an fsspec URL prefix (see `log_location`).
    """

    def __init__(self, location: str):
        self.location = location
        self._backend = _ObjectLog(location) if config.is_url(location) else _LocalLog(location)
        self._pending: list[dict] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        _open_logs.add(self)

    def append(self, records: Iterable[dict]) -> None:
        """Queue records; they are written within FLUSH_SECONDS, or at once when many wait."""
        with self._lock:
            self._pending.extend(records)
            many = len(self._pending) >= MAX_BUFFERED
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="prediction-log", daemon=True
                )
                self._thread.start()
        if many:
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # kept for the next flush; the app must go on serving
                self.last_error = str(exc)
                logger.warning("the prediction log could not be written: %s", exc)

    def flush(self) -> None:
        """Write every queued record; return when they are stored.

        Raises:
            StoreUnavailable: the storage refused them (they stay queued for the next try).
        """
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in batch)
            try:
                self._backend.write(lines)
            except Exception as exc:
                with self._lock:
                    self._pending[:0] = batch
                if isinstance(exc, StoreUnavailable):
                    raise
                raise StoreUnavailable(f"The prediction log could not be written: {exc}") from exc
            self.last_error = None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def read(self) -> pd.DataFrame:
        """Every record stored, oldest first, flushing this process's queue first.

        Returns:
            A frame with COLUMNS and one `prob_<label>` column per class seen; `time` is a
            UTC timestamp. Lines that cannot be read (a write cut short by a crash) are
            skipped and counted in `frame.attrs["unreadable"]`.
        """
        self.flush()
        records, unreadable = [], 0
        for chunk in self._backend.read():
            for line in chunk.splitlines():
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    unreadable += 1
        frame = records_frame(records)
        frame.attrs["unreadable"] = unreadable
        return frame


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Records as a frame: COLUMNS, then `prob_<label>` per class, sorted by time."""
    rows = [{column: record.get(column) for column in COLUMNS} for record in records]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    probabilities = pd.DataFrame([record.get("probabilities") or {} for record in records])
    frame = pd.concat([frame, probabilities.add_prefix("prob_")], axis=1)
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    frame["confidence"] = pd.to_numeric(frame["confidence"])
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


_open_logs: "weakref.WeakSet[PredictionLog]" = weakref.WeakSet()
_shared: dict[str, PredictionLog] = {}
_shared_lock = threading.Lock()


def shared_log(location: str) -> PredictionLog:
    """The one PredictionLog of this process for a location (its queue and thread)."""
    with _shared_lock:
        if location not in _shared:
            _shared[location] = PredictionLog(location)
        return _shared[location]


def flush_shared(models_dir: str | os.PathLike | None = None) -> int:
    """Store what this process queued for the log beside `models_dir`; return how many.

    Raises:
        StoreUnavailable: the storage refused them.
    """
    with _shared_lock:
        log = _shared.get(log_location(models_dir))
    if log is None:
        return 0
    waiting = log.pending
    log.flush()
    return waiting


def log_predictions(
    texts: Sequence[str],
    probabilities: np.ndarray,
    labels: Sequence[str],
    version: str,
    source: str,
    models_dir: str | os.PathLike | None = None,
) -> bool:
    """Append to the log when the setting turns it on; return whether it did.

    Never raises for a storage problem or a bad setting: the answer was given. A failed write
    is logged and retried with the next flush (`PredictionLog.last_error` says why).
    """
    try:
        mode = log_mode()
    except DataError as exc:  # the Monitor view shows the message; answers go on
        logger.warning("%s", exc)
        return False
    if mode == "off" or not len(texts):
        return False
    records = make_records(texts, probabilities, labels, version, source, mode == "texts")
    shared_log(log_location(models_dir)).append(records)
    return True


@atexit.register
def _flush_at_exit() -> None:
    for log in list(_open_logs):
        try:
            log.flush()
        except Exception as exc:  # nothing else can be done at exit
            logger.warning("the prediction log lost %d records at exit: %s", log.pending, exc)
