"""Joining a Ray cluster, and running one training job on it.

Batch scoring (pipeline.batch_ray) and training both join a cluster with `connect`. A
training job on a cluster goes through the same seam as a local one (pipeline.jobs'
WorkerCall, run by pipeline.worker): the worker process, or `train.py --ray-address`, becomes
the Ray driver. It submits one Ray task that runs the call on a node, asking for
config.TRAINING_CPUS CPUs and a GPU when the cluster has one, and relays the task's progress
events back as they come, through a small actor (`Channel`). Cancel asks the task to stop after the
current batch, as locally, and cancels it by force after CANCEL_GRACE_SECONDS. A task that
dies (its node lost, its memory exceeded) ends the job with a message, and saves nothing: a
version is committed only when its training ended.

The task saves into the registry from the node it runs on, so the registry must be one every
node reaches: object storage (`check_can_train`).

Ray is imported only inside the functions, so the dashboard and the worker process never need
it unless a cluster is used (requirements-cluster.txt).
"""

import importlib.util
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import config
from pipeline.errors import ClusterUnavailable, SentimentError

logger = logging.getLogger(__name__)

# The environment a cluster's tasks need to reach the registry and the data: passed along.
FORWARDED_ENV_PREFIXES = ("SENTIMENT_", "AWS_")
# Seconds to wait for a cluster address to answer before saying it is unreachable.
CONNECT_TIMEOUT = 5
# How a job's progress says where it runs (its first event; its "where" keeps it).
RUNNING_ON = "running on the Ray cluster at"
# How often the driver relays the task's progress and passes on a cancel.
POLL_SECONDS = 0.25
# How long a cancelled task may take to stop at a batch's end before it is cancelled by
# force: under the worker process's own grace (pipeline.jobs.CANCEL_GRACE_SECONDS, 10 s).
CANCEL_GRACE_SECONDS = 6.0

# What runs a call on the node: (call, report, stop_event) -> (kind, payload), as
# pipeline.worker.outcome_of, which the worker passes in.
RunCall = Callable[[object, Callable[[dict], None], threading.Event], tuple]
Send = Callable[[dict], None]


def import_ray():
    """Ray, or a clear message saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterUnavailable(
            f"Using a Ray cluster needs Ray ({exc.name} is missing): pip install -r "
            "requirements-cluster.txt"
        ) from exc
    return ray


def connect(address: str | None) -> None:
    """Join the cluster at `address` (host:port, or ray://host:port), or start Ray on this
    machine when None (and RAY_ADDRESS is not set).

    Raises:
        ClusterUnavailable: Ray is not installed, or nothing answers at the address.
    """
    ray = import_ray()
    if ray.is_initialized():
        return
    # Ray Data's plans, timings and tracebacks are for Ray's developers (they stay in the
    # session's log folder); users get one line.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    env_vars = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    # The pipeline package travels with the job, so nodes need only the requirements.
    runtime_env = {"py_modules": [str(Path(__file__).parent)], "env_vars": env_vars}
    try:
        ray.init(
            address=address,
            runtime_env=runtime_env,
            logging_level="ERROR",
            log_to_driver=False,
            configure_logging=True,
        )
    except ConnectionError as exc:
        raise ClusterUnavailable(f"Cannot join the Ray cluster at {address}: {exc}") from exc


def check_reachable(address: str) -> None:
    """Raise ClusterUnavailable, with what to do, unless something answers at host:port."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(f"The Ray address {address!r} is not host:port.")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ClusterUnavailable(
            f"No Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head`, or check the address."
        ) from exc


def project_error(exc: BaseException) -> SentimentError | None:
    """The project error a Ray exception carries (raised in a task or an actor), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, SentimentError):
            return exc
        cause = getattr(exc, "cause", None)
        exc = cause if isinstance(cause, BaseException) else exc.__cause__ or exc.__context__
    return None


def check_can_train(registry_root: str) -> None:
    """Refuse, before anything starts, a training on a cluster that could not work from here:
    Ray is not installed, or the registry is in a folder of this machine, where the cluster's
    nodes could not save.

    Raises:
        ClusterUnavailable: with what to do.
    """
    if importlib.util.find_spec("ray") is None:
        import_ray()  # says how to install it
    if not config.is_url(registry_root):
        raise ClusterUnavailable(
            f"Training on a Ray cluster saves the new version from the node that trained it, "
            f"so the models must be on object storage that every node reaches (an s3:// URL in "
            f"{config.MODELS_DIR_ENV}); {registry_root} is a folder on this machine. "
            "Docs: Scaling."
        )


class Channel:
    """The task's progress on its way to the driver, and the driver's cancel on its way to
    the task (a Ray actor taking no CPU)."""

    def __init__(self):
        self.events: list[dict] = []
        self.cancelled = False

    def put(self, event: dict | None) -> None:
        if event is not None:  # None only waits for the earlier events to arrive
            self.events.append(event)

    def take(self) -> list[dict]:
        events, self.events = self.events, []
        return events

    def cancel(self) -> None:
        self.cancelled = True

    def is_cancelled(self) -> bool:
        return self.cancelled


def run_task(run_call: RunCall, call, channel) -> tuple:
    """The Ray task's body: run the call on this node, with its events sent to the channel
    and the channel's cancel passed to its stop event."""
    import ray

    stop = threading.Event()
    finished = threading.Event()

    def watch_for_cancel() -> None:
        while not finished.wait(POLL_SECONDS):
            if ray.get(channel.is_cancelled.remote()):
                stop.set()
                return

    watcher = threading.Thread(target=watch_for_cancel, name="cancel-watch", daemon=True)
    watcher.start()
    try:
        outcome = run_call(call, channel.put.remote, stop)
    finally:
        finished.set()
    # An actor runs one caller's calls in order: once this one is done, so is every event.
    ray.get(channel.put.remote(None))
    return outcome


def task_resources() -> dict:
    """The CPUs and GPU a training task asks for: config.TRAINING_CPUS, and one GPU where
    the cluster has one (every recipe trains with Keras, which uses it).

    Raises:
        ClusterUnavailable: no node of the cluster has that many CPUs.
    """
    import ray

    cpus = int(config.limit("TRAINING_CPUS"))
    alive = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    if not any(node.get("CPU", 0) >= cpus for node in alive):
        most = max((int(node.get("CPU", 0)) for node in alive), default=0)
        raise ClusterUnavailable(
            f"No node of the Ray cluster has {cpus} CPUs for the training (the largest has "
            f"{most}). Set SENTIMENT_TRAINING_CPUS to at most {most}, or add a larger node."
        )
    gpus = 1 if any(node.get("GPU", 0) >= 1 for node in alive) else 0
    return {"num_cpus": cpus, "num_gpus": gpus}


def where(address: str, resources: dict) -> str:
    """Where a job sent to a cluster runs, as its progress and result say it."""
    gpu = "1 GPU" if resources["num_gpus"] else "no GPU"
    return f"on the Ray cluster at {address} ({resources['num_cpus']} CPUs, {gpu})"


def run_on_cluster(
    run_call: RunCall, call, address: str, send: Send, stop: threading.Event
) -> tuple:
    """Run `call` as one Ray task on the cluster at `address`; relay its events to `send`.

    Args:
        run_call: runs the call on the node, returning its outcome (pipeline.worker).
        call: the job (a pipeline.jobs.WorkerCall); its arguments travel pickled.
        address: the cluster's host:port.
        send: receives each progress event, in order.
        stop: set it to cancel the job.

    Returns:
        The outcome: ("succeeded", result), ("cancelled", None) or ("failed", message).

    Raises:
        ClusterUnavailable: Ray is missing, the cluster does not answer, or it has no node
            large enough. Nothing was started then.
    """
    ray = import_ray()
    check_reachable(address)
    connect(address)
    resources = task_resources()
    place = where(address, resources)
    send({"event": f"running {place}", "where": place})
    channel = ray.remote(Channel).options(num_cpus=0).remote()
    task = ray.remote(run_task).options(max_retries=0, **resources)
    pending = task.remote(run_call, call, channel)
    cancelled_at = None
    while True:
        ready, _ = ray.wait([pending], timeout=POLL_SECONDS)
        for event in ray.get(channel.take.remote()):
            send(event)
        if ready:
            break
        if stop.is_set() and cancelled_at is None:
            channel.cancel.remote()
            cancelled_at = time.monotonic()
        elif cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
            ray.cancel(pending, force=True)
    try:
        return ray.get(pending)
    except ray.exceptions.TaskCancelledError:
        return ("cancelled", None)
    except ray.exceptions.RayError as exc:
        if stop.is_set():
            return ("cancelled", None)
        logger.warning("training task on %s ended without an answer: %s", address, exc)
        return (
            "failed",
            f"The training on the Ray cluster at {address} ended without an answer "
            f"({type(exc).__name__}). Nothing was saved; the models are as they were.",
        )
