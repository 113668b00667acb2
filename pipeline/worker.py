"""The worker process that runs one dashboard job (pipeline.jobs.WorkerCall).

Started by pipeline.jobs as `python -m pipeline.worker FD`: it reads the pickled call from
its stdin (the server wrote it; nothing else can), runs it, and sends ("event", progress)
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
from multiprocessing.connection import Connection

from pipeline.errors import SentimentError, TrainingCancelled

logger = logging.getLogger("pipeline.worker")


def run(call, events: Connection) -> None:
    """Run one call and send its events and its outcome."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(event: dict) -> None:
        events.send(("event", event))

    try:
        module, name = call.function.split(":")
        function = getattr(importlib.import_module(module), name)
        result = function(report=report, stop_event=stop, **call.kwargs)
    except TrainingCancelled:
        events.send(("cancelled", None))
    except SentimentError as exc:
        events.send(("failed", str(exc)))
    except Exception as exc:  # the job must end with a message, whatever went wrong
        logger.exception("training worker failed")
        events.send(("failed", f"Training failed: {type(exc).__name__}: {exc}"))
    else:
        events.send(("succeeded", result))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="worker %(levelname)s %(name)s: %(message)s")
    with Connection(int(sys.argv[1]), readable=False) as events:
        call = pickle.load(sys.stdin.buffer)
        run(call, events)


if __name__ == "__main__":
    main()
