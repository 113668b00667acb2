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
import functools
import hashlib
import io
import json
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

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


class Batch(NamedTuple):
    """Answers queued for the log, as given: checking and formatting wait for the background
    thread, so the Predict path pays only for queuing them."""

    time: float
    texts: Sequence[str]
    probabilities: object  # shape (texts, classes), in `labels` order
    labels: Sequence[str]
    version: str
    source: str
    keep_texts: bool


def make_batch(
    texts: Sequence[str],
    probabilities,
    labels: Sequence[str],
    version: str,
    source: str,
    keep_texts: bool,
) -> Batch:
    """Answers to log, stamped now.

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
    return Batch(time.time(), texts, probabilities, labels, version, source, keep_texts)


def format_lines(batches: list[Batch]) -> str:
    """The JSON lines of queued batches: one record per text, with COLUMNS and a
    `prob_<label>` key per class. Written by hand, with json.dumps only for the strings that
    need escaping: most batches hold one text, and json.dumps or pandas per record would cost
    the Predict path more than the log may (bench/prediction_log.py)."""
    groups: dict[tuple, list[Batch]] = {}
    for batch in batches:
        key = (tuple(batch.labels), batch.version, batch.source, batch.keep_texts)
        groups.setdefault(key, []).append(batch)
    lines = []
    for (labels, version, source, keep_texts), group in groups.items():
        fixed = f'"version": {json.dumps(version)}, "source": {json.dumps(source)}, '
        names = [json.dumps(label) for label in labels]
        keys = [json.dumps(f"prob_{label}") for label in labels]
        for batch in group:
            rows = batch.probabilities
            rows = rows.tolist() if isinstance(rows, np.ndarray) else rows
            if len(rows) != len(batch.texts) or any(len(row) != len(labels) for row in rows):
                logger.warning("a batch of %d texts came with other probabilities; not logged",
                               len(batch.texts))  # fmt: skip
                continue
            stamp = datetime.fromtimestamp(batch.time, UTC).isoformat(timespec="microseconds")
            head = f'{{"time": "{stamp}", {fixed}'
            for text, row in zip(batch.texts, rows, strict=True):
                best = max(range(len(row)), key=row.__getitem__)
                kept = json.dumps(text, ensure_ascii=False) if keep_texts else "null"
                probs = ", ".join(
                    [f"{key}: {float(p)!r}" for key, p in zip(keys, row, strict=True)]
                )
                lines.append(
                    f'{head}"text": {kept}, "text_sha256": "{text_sha256(text)}", '
                    f'"predicted": {names[best]}, "confidence": {float(row[best])!r}, {probs}}}\n'
                )
    return "".join(lines)


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
        self._pending: list[Batch] = []
        self._waiting = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        _open_logs.add(self)

    def append(self, batch: Batch) -> None:
        """Queue answers; they are written within FLUSH_SECONDS, or at once when many wait."""
        with self._lock:
            self._pending.append(batch)
            self._waiting += len(batch.texts)
            many = self._waiting >= MAX_BUFFERED
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
                batches, self._pending, self._waiting = self._pending, [], 0
            if not batches:
                return
            try:
                self._backend.write(format_lines(batches))
            except Exception as exc:
                with self._lock:
                    self._pending[:0] = batches
                    self._waiting += sum(len(batch.texts) for batch in batches)
                if isinstance(exc, StoreUnavailable):
                    raise
                raise StoreUnavailable(f"The prediction log could not be written: {exc}") from exc
            self.last_error = None

    @property
    def pending(self) -> int:
        """How many answers wait to be written."""
        with self._lock:
            return self._waiting

    def read(self) -> pd.DataFrame:
        """Every record stored, oldest first, flushing this process's queue first.

        Returns:
            A frame with COLUMNS and one `prob_<label>` column per class seen; `time` is a
            UTC timestamp. Lines that cannot be read (a write cut short by a crash) are
            skipped and counted in `frame.attrs["unreadable"]`.
        """
        self.flush()
        chunks = self._backend.read()
        try:  # the fast path: every line whole
            text = "".join(chunks)
            frame = (
                pd.read_json(io.StringIO(text), lines=True, dtype=False) if text.strip() else None
            )
            unreadable = 0
        except ValueError:  # a line cut short: read line by line, and count what is skipped
            records, unreadable = [], 0
            for line in "".join(chunks).splitlines():
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        unreadable += 1
            frame = pd.DataFrame.from_records(records) if records else None
        frame = records_frame(frame)
        frame.attrs["unreadable"] = unreadable
        return frame


def records_frame(frame: pd.DataFrame | None) -> pd.DataFrame:
    """Records read as a frame: COLUMNS, then `prob_<label>` per class, sorted by time."""
    if frame is None:
        return pd.DataFrame(columns=COLUMNS)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    probabilities = sorted(c for c in frame.columns if c.startswith("prob_"))
    frame = frame[COLUMNS + probabilities]
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    for column in ["confidence", *probabilities]:
        frame[column] = pd.to_numeric(frame[column])
    frame["text"] = frame["text"].where(frame["text"].notna(), None)
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
    setting = os.environ.get(SETTING_ENV)
    if setting is None or not len(texts):  # off, the default: nothing more to do
        return False
    try:
        keep_texts, location = _destination(
            setting, models_dir, os.environ.get(config.MODELS_DIR_ENV)
        )
    except DataError as exc:  # the Monitor view shows the message; answers go on
        logger.warning("%s", exc)
        return False
    if location is None:
        return False
    log = _shared.get(location) or shared_log(location)
    log.append(make_batch(texts, probabilities, labels, version, source, keep_texts))
    return True


@functools.lru_cache(maxsize=32)
def _destination(
    setting: str, models_dir: str | os.PathLike | None, models_env: str | None
) -> tuple[bool, str | None]:
    """Whether texts are kept, and where the log is (None when it is off): remembered, as
    the Predict path asks on every answer. `models_env` is part of the key only."""
    mode = log_mode()
    if mode == "off":
        return False, None
    return mode == "texts", log_location(models_dir)


@atexit.register
def _flush_at_exit() -> None:
    for log in list(_open_logs):
        try:
            log.flush()
        except Exception as exc:  # nothing else can be done at exit
            logger.warning("the prediction log lost %d records at exit: %s", log.pending, exc)
