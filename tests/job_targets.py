"""Job functions for worker-process tests: importable by name, as pipeline.jobs.WorkerCall
requires. Each stands in for a training at one point of its life."""

import signal
import time

from pipeline.errors import RegistryError, TrainingCancelled

BATCH = {"event": "batch", "epoch": 1, "epochs": 3, "batch": 1, "steps": 10}


def wait_for_cancel(report, stop_event):
    """Report one batch, then stop as training does when cancel arrives."""
    report(BATCH)
    if stop_event.wait(timeout=120):
        raise TrainingCancelled("Training was cancelled.")
    return {}


def hang_ignoring_sigterm(report, stop_event):
    """A worker stuck where SIGTERM does not reach it (it ignores the signal)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    report(BATCH)
    time.sleep(300)
    return {}


def report_then_sleep(report, stop_event):
    """Mid-epoch for as long as a test needs to kill it."""
    report(BATCH)
    time.sleep(300)
    return {}


def crash(report, stop_event):
    raise ValueError("boom")


def echo(report, stop_event, **kwargs):
    return kwargs


def train_with_a_broken_save(report, stop_event, data, params, registry):
    """A real training whose save fails, as on a full disk."""
    from pipeline.train import train_and_save  # TensorFlow loads only for this one

    def broken_save(model, metadata, promote=False, files=None):
        raise RegistryError("Could not save the model: disk full")

    registry.save = broken_save
    return train_and_save(data, params, registry, report, stop_event)
