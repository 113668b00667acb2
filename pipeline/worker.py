"""The worker process that runs one dashboard job (pipeline.jobs.WorkerCall).

Started by pipeline.jobs as `python -m pipeline.worker FD`: it reads the pickled call from
its stdin (the server wrote it; nothing else can), runs it (here, or as a task on the Ray
cluster the call names, pipeline.cluster), and sends ("event", progress)
messages and then one last word, ("succeeded", result), ("cancelled", None) or ("failed",
message), over the pipe FD. SIGTERM asks it to stop after the current batch, as the cancel
button does.
"""

import importlib
import logging
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

from pipeline.cluster import run_on_cluster
from pipeline.errors import SentimentError, TrainingCancelled

logger = logging.getLogger("pipeline.worker")


def outcome_of(call, report: Callable[[dict], None], stop: threading.Event) -> tuple:
    """Run one call here; its outcome: ("succeeded", result), ("cancelled", None) or
    ("failed", message). On a Ray cluster, the task runs this (pipeline.cluster)."""
    try:
        module, name = call.function.split(":")
        function = getattr(importlib.import_module(module), name)
        return ("succeeded", function(report=report, stop_event=stop, **call.kwargs))
    except TrainingCancelled:
        return ("cancelled", None)
    except SentimentError as exc:
        return ("failed", str(exc))
    except Exception as exc:  # the job must end with a message, whatever went wrong
        logger.exception("training worker failed")
        return ("failed", f"Training failed: {type(exc).__name__}: {exc}")


def run(call, events: Connection) -> None:
    """Run one call, here or on the Ray cluster it names, and send its events and outcome."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(event: dict) -> None:
        events.send(("event", event))

    if call.ray_address is None:
        outcome = outcome_of(call, report, stop)
    else:
        try:
            outcome = run_on_cluster(outcome_of, call, call.ray_address, report, stop)
        except SentimentError as exc:  # the cluster is unreachable: nothing was started
            outcome = ("failed", str(exc))
    events.send(outcome)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="worker %(levelname)s %(name)s: %(message)s")
    with Connection(int(sys.argv[1]), readable=False) as events:
        call = pickle.load(sys.stdin.buffer)
        run(call, events)


if __name__ == "__main__":
    main()
