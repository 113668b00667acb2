"""Background training jobs that outlive a page's reruns and reloads.

The dashboard's jobs run in a worker process (`WorkerCall`, pipeline/worker.py), not in a
thread of the server: a training that runs out of memory or crashes takes only itself down,
and every session keeps being served. The worker sends its progress events over a pipe; a
thread of the server reads them into the job under a lock. Cancel asks the worker to stop
after the current batch (SIGTERM) and kills it if it has not ended within
CANCEL_GRACE_SECONDS. A worker that dies without answering becomes a failed job that says
how it ended. The same seam sends a job to a Ray cluster (WorkerCall.ray_address): the worker
becomes the Ray driver, and the rest of the job is the same.

A plain callable still runs on a thread of this process (for library callers and tests that
stand in for a job).

Streamlit forbids `st.*` calls from other threads, so a job never touches the UI: progress
is written into the job under a lock, and the page reads a `snapshot()` whenever it redraws
(the Retrain tab polls with `st.fragment(run_every=...)`).

Two guards keep trainings apart: a JobRunner runs one job at a time in a server process,
and `training_slot` lets one training at a time write into a models folder, whichever
process (the app, train.py) it runs in.
"""

import copy
import json
import logging
import os
import pickle
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from filelock import FileLock, Timeout

from pipeline import config
from pipeline.errors import JobBusy, SentimentError, TrainingCancelled
from pipeline.registry import Registry

logger = logging.getLogger(__name__)

JobTarget = Callable[[Callable[[dict], None], threading.Event], dict]
TRAINING_LOCK_FILE = ".training.lock"
TRAINING_INFO_FILE = ".training.json"
# How long a cancelled worker may take to stop at a batch's end before it is killed.
CANCEL_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerCall:
    """A job to run in a worker process: `function(report=..., stop_event=..., **kwargs)`.

    The function is named, "module:function", so the server never imports it (training
    modules load TensorFlow, which the server does not otherwise need); the worker does.
    The arguments travel to the worker over a pipe, pickled, and the result comes back the
    same way, so both must be picklable. With `ray_address`, the worker sends the call on to
    that Ray cluster as one task (pipeline.cluster) and relays its events.
    """

    function: str
    kwargs: dict = field(default_factory=dict)
    ray_address: str | None = None


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def worker_death_message(returncode: int) -> str:
    """What a user reads when the worker process ended without an answer."""
    if returncode == -signal.SIGKILL:
        how = (
            "was killed (SIGKILL), most likely because it ran out of memory. Try a smaller "
            "model or batch size, or fewer rows"
        )
    elif returncode < 0:
        how = f"was stopped by {_signal_name(returncode)}"
    else:
        how = f"exited with code {returncode} without finishing"
    return f"The training process {how}. Nothing was saved; the models are as they were."


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
    """One training run in a worker process (or on a thread), with progress and cancel.

    Args:
        target: a WorkerCall, run in a worker process; or a callable, called as
            target(report, stop_event) on the job's thread. Either returns the result (the
            new version's metadata).
        description: a line saying what is being trained.
        started: when the job's clock starts (`time.time()`), e.g. the click that asked for
            it, so the elapsed time counts what the page did before the thread began
            (checks, loading TensorFlow); default now.
    """

    def __init__(
        self, target: "WorkerCall | JobTarget", description: str, started: float | None = None
    ):
        self.id = secrets.token_hex(4)
        self.description = description
        self.target = target
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
            "worker": None,
            "where": None,  # where it runs, when not here (a Ray cluster, pipeline.cluster)
        }
        self._process: subprocess.Popen | None = None
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
            if "where" in event:
                self._state["where"] = event["where"]

    def _run(self) -> None:
        outcome: dict = {}
        try:
            if isinstance(self.target, WorkerCall):
                outcome = self._run_worker(self.target)
            else:
                outcome = {"status": "succeeded", "result": self.target(self.report, self._stop)}
        except TrainingCancelled:
            outcome = {"status": "cancelled"}
        except SentimentError as exc:
            outcome = {"status": "failed", "error": str(exc)}
        except Exception as exc:  # the job must end with a message, whatever went wrong
            logger.exception("training job %s failed", self.id)
            outcome = {"status": "failed", "error": f"Training failed: {type(exc).__name__}: {exc}"}
        with self._lock:
            self._state.update(outcome, finished=time.time(), phase="done")

    def _run_worker(self, call: WorkerCall) -> dict:
        """Run `call` in a worker process; its outcome as a state update."""
        read_end, write_end = os.pipe()
        # The worker imports what this process can: the project, and the modules of the
        # objects it unpickles.
        path = [str(config.PROJECT_ROOT), *(entry for entry in sys.path if entry)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.worker", str(write_end)],
                stdin=subprocess.PIPE,
                pass_fds=(write_end,),
                env=env,
            )
        finally:
            os.close(write_end)
        with self._lock:
            self._process = process
            self._state["worker"] = process.pid
        if self._stop.is_set():  # cancelled before the worker started
            self._terminate()
        outcome = None
        with Connection(read_end, writable=False) as events:
            try:
                process.stdin.write(pickle.dumps(call))
                process.stdin.close()
            except BrokenPipeError:
                pass  # it died at once; its exit code says how
            while outcome is None:
                try:
                    kind, payload = events.recv()
                except EOFError:  # the worker ended without a last word
                    break
                if kind == "event":
                    self.report(payload)
                else:
                    outcome = (kind, payload)
        returncode = process.wait()
        if outcome is None:
            if self._stop.is_set():
                return {"status": "cancelled"}
            return {"status": "failed", "error": worker_death_message(returncode)}
        kind, payload = outcome
        if kind == "succeeded":
            return {"status": "succeeded", "result": payload}
        if kind == "cancelled":
            return {"status": "cancelled"}
        return {"status": "failed", "error": payload}

    def _terminate(self) -> None:
        """Ask the worker to stop (SIGTERM); kill it if it is still there after the grace."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()

        def kill_if_still_there():
            try:
                process.wait(timeout=CANCEL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()

        threading.Thread(target=kill_if_still_there, daemon=True).start()

    def cancel(self) -> None:
        """Stop the job after the current batch (a worker is killed if it does not); nothing
        is saved."""
        self._stop.set()
        self._terminate()

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
