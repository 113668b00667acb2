"""Background training jobs that outlive a page's reruns and reloads.

Streamlit forbids `st.*` calls from other threads, so a job never touches the UI: the
training thread writes progress into the job under a lock, and the page reads a
`snapshot()` whenever it redraws (the Retrain tab polls with `st.fragment(run_every=...)`).

Two guards keep trainings apart: a JobRunner runs one job at a time in a server process,
and `training_slot` lets one training at a time write into a models folder, whichever
process (the app, train.py) it runs in.
"""

import copy
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from filelock import FileLock, Timeout

from pipeline.errors import JobBusy, SentimentError, TrainingCancelled
from pipeline.registry import Registry

logger = logging.getLogger(__name__)

JobTarget = Callable[[Callable[[dict], None], threading.Event], dict]
TRAINING_LOCK_FILE = ".training.lock"
TRAINING_INFO_FILE = ".training.json"


@contextmanager
def training_slot(registry: Registry, description: str) -> Iterator[None]:
    """Hold a models folder's one training slot while the block runs.

    The slot is a kernel file lock (flock), so a killed process frees it at once.

    Args:
        registry: the registry the training will save into.
        description: what is training, shown to anyone who finds the slot taken.

    Raises:
        JobBusy: another process or thread is training into the same folder.
    """
    lock = FileLock(str(registry.work_dir / TRAINING_LOCK_FILE), timeout=0)
    with registry.writing("start training"):
        registry.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire()
        except Timeout:  # an OSError too, so caught before `writing` sees it
            raise JobBusy(
                f"Another training is running into {registry.root} ({_slot_holder(registry)}). "
                "Wait for it to finish before starting another."
            ) from None
    info = registry.work_dir / TRAINING_INFO_FILE
    try:
        started = datetime.now(UTC).strftime("%H:%M:%S UTC")
        holder = {"pid": os.getpid(), "description": description, "started": started}
        with registry.writing("start training"):
            info.write_text(json.dumps(holder), encoding="utf-8")
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _slot_holder(registry: Registry) -> str:
    try:
        holder = json.loads((registry.work_dir / TRAINING_INFO_FILE).read_text(encoding="utf-8"))
        return f"{holder['description']}, process {holder['pid']}, since {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "it started just now"


class TrainingJob:
    """One training run on a daemon thread, with thread-safe progress and cancel.

    Args:
        target: called as target(report, stop_event) on the job's thread; returns the
            result (the new version's metadata).
        description: a line saying what is being trained.
        started: when the job's clock starts (`time.time()`), e.g. the click that asked for
            it, so the elapsed time counts what the page did before the thread began
            (checks, loading TensorFlow); default now.
    """

    def __init__(self, target: JobTarget, description: str, started: float | None = None):
        self.id = secrets.token_hex(4)
        self.description = description
        self._target = target
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._state = {
            "status": "running",
            "phase": "starting",
            "started": time.time() if started is None else started,
            "finished": None,
            "epoch": 0,
            "epochs": None,
            "batch": 0,
            "steps": None,
            "history": [],
            "error": None,
            "result": None,
        }
        self._thread = threading.Thread(target=self._run, name=f"training-{self.id}", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def report(self, event: dict) -> None:
        """Record one progress event (called on the training thread)."""
        with self._lock:
            kind = event["event"]
            if kind == "batch":
                self._state.update(
                    phase="training",
                    epoch=event["epoch"],
                    epochs=event["epochs"],
                    batch=event["batch"],
                    steps=event["steps"],
                )
            elif kind == "epoch":
                entry = {"refit": False, **{k: v for k, v in event.items() if k != "event"}}
                self._state["history"].append(entry)
            else:
                self._state["phase"] = kind

    def _run(self) -> None:
        outcome: dict = {}
        try:
            outcome = {"status": "succeeded", "result": self._target(self.report, self._stop)}
        except TrainingCancelled:
            outcome = {"status": "cancelled"}
        except SentimentError as exc:
            outcome = {"status": "failed", "error": str(exc)}
        except Exception as exc:  # the job must end with a message, whatever went wrong
            logger.exception("training job %s failed", self.id)
            outcome = {"status": "failed", "error": f"Training failed: {type(exc).__name__}: {exc}"}
        with self._lock:
            self._state.update(outcome, finished=time.time(), phase="done")

    def cancel(self) -> None:
        """Ask the job to stop after the current batch; nothing is saved."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> dict:
        """Block until the job ends (or the timeout passes); return its snapshot."""
        self._thread.join(timeout)
        return self.snapshot()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state["status"] == "running"

    def snapshot(self) -> dict:
        """A consistent copy of the job's state, with elapsed seconds, progress and ETA."""
        with self._lock:
            state = copy.deepcopy(self._state)
        end = state["finished"] or time.time()
        state["elapsed"] = end - state["started"]
        done = 0.0
        if state["epochs"] and state["steps"]:
            done = ((state["epoch"] - 1) + state["batch"] / state["steps"]) / state["epochs"]
        state["progress"] = 1.0 if state["status"] == "succeeded" else min(done, 1.0)
        running = state["status"] == "running" and done > 0
        state["eta"] = state["elapsed"] * (1 - done) / done if running else None
        state["id"], state["description"] = self.id, self.description
        state["cancel_requested"] = self._stop.is_set()
        return state


class JobRunner:
    """Runs at most one training job at a time; keep one per server process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    def start(
        self, target: JobTarget, description: str, started: float | None = None
    ) -> TrainingJob:
        """Start a job unless one is running.

        Args:
            target: see TrainingJob.
            description: see TrainingJob.
            started: see TrainingJob.

        Returns:
            The started job.
        """
        with self._lock:
            if self._job is not None and self._job.running:
                raise JobBusy(
                    f"A training job is already running ({self._job.description}). "
                    "Wait for it to finish, or cancel it, before starting another."
                )
            self._job = TrainingJob(target, description, started).start()
            return self._job

    @property
    def current(self) -> TrainingJob | None:
        """The running or most recent job, if any."""
        return self._job
