"""Background training jobs: progress, cancel, one at a time, failures leave the registry alone."""

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from pipeline import config, jobs
from pipeline.data import load_labelled_data
from pipeline.errors import JobBusy
from pipeline.jobs import JobRunner, WorkerCall
from pipeline.params import resolve_params
from pipeline.registry import Registry
from tests.conftest import TINY_PARAMS


@pytest.fixture(scope="module")
def data():
    return load_labelled_data(config.SAMPLE_DATA_PATH)


def training(data, registry, **overrides) -> WorkerCall:
    """The dashboard's call: train_and_save in a worker process."""
    params = resolve_params({**TINY_PARAMS, **overrides})
    return WorkerCall(
        "pipeline.train:train_and_save", {"data": data, "params": params, "registry": registry}
    )


def wait_until(job, condition, timeout=120.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = job.snapshot()
        if condition(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"not reached in {timeout} s: {job.snapshot()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended; only its exit status is left.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_job_reports_progress_and_saves_a_version(data, tmp_path):
    registry = Registry(tmp_path)
    job = JobRunner().start(training(data, registry), "tiny")
    state = job.wait(timeout=300)
    assert state["status"] == "succeeded", state["error"]
    assert state["worker"] not in (None, os.getpid())  # it trained in another process
    assert state["progress"] == 1.0
    assert [h["epoch"] for h in state["history"]] == list(range(1, len(state["history"]) + 1))
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(state["history"][0])
    assert state["steps"] and state["epochs"] == TINY_PARAMS["epochs"]
    assert registry.versions() == [state["result"]["version"]]
    assert "baseline" in state["result"]
    assert not any(h["refit"] for h in state["history"])


def test_a_final_refits_epochs_are_marked_and_charted_apart(data, tmp_path):
    from ui.job_view import REFIT_PARTS, curves_chart

    job = JobRunner().start(training(data, Registry(tmp_path), final_refit="yes"), "tiny")
    state = job.wait(timeout=300)
    assert state["status"] == "succeeded", state["error"]
    refit = state["result"]["refit"]["epochs"]
    first = state["result"]["epochs_run"]
    assert [h["refit"] for h in state["history"]] == [False] * first + [True] * refit
    assert [h["epoch"] for h in state["history"]] == [*range(1, first + 1), *range(1, refit + 1)]
    parts = set(curves_chart(state["history"]).data["part"])
    assert parts == {"train", "validation", *REFIT_PARTS.values()}


def test_cancel_stops_a_training_mid_epoch_ends_its_process_and_saves_nothing(data, tmp_path):
    registry = Registry(tmp_path)
    job = JobRunner().start(training(data, registry, epochs=20), "to cancel")
    state = wait_until(job, lambda s: s["batch"] >= 1 or s["status"] != "running")
    assert state["status"] == "running"
    job.cancel()
    state = job.wait(timeout=120)
    assert state["status"] == "cancelled"
    # It stopped where the request found it: the first epochs of 20 (a busy machine may
    # read the first batch's event late, when the worker is already further on).
    assert state["epoch"] <= 3 and len(state["history"]) < 3
    assert not alive(state["worker"])
    assert registry.versions() == []


def test_a_worker_that_ignores_the_stop_request_is_killed_after_the_grace(monkeypatch):
    monkeypatch.setattr(jobs, "CANCEL_GRACE_SECONDS", 1.0)
    job = JobRunner().start(WorkerCall("tests.job_targets:hang_ignoring_sigterm"), "stuck")
    wait_until(job, lambda s: s["batch"] == 1)
    job.cancel()
    state = job.wait(timeout=30)
    assert state["status"] == "cancelled"
    assert not alive(state["worker"])


def test_a_worker_stops_at_once_when_asked(data):
    job = JobRunner().start(WorkerCall("tests.job_targets:wait_for_cancel"), "waiting")
    wait_until(job, lambda s: s["batch"] == 1)
    job.cancel()
    state = job.wait(timeout=30)
    assert state["status"] == "cancelled"
    assert state["elapsed"] < 30


def test_a_killed_worker_is_a_failed_job_with_a_clear_message():
    job = JobRunner().start(WorkerCall("tests.job_targets:report_then_sleep"), "to kill")
    state = wait_until(job, lambda s: s["batch"] == 1)
    os.kill(state["worker"], signal.SIGKILL)  # as the kernel's out-of-memory killer does
    state = job.wait(timeout=30)
    assert state["status"] == "failed"
    assert state["error"] == (
        "The training process was killed (SIGKILL), most likely because it ran out of memory. "
        "Try a smaller model or batch size, or fewer rows. Nothing was saved; the models are "
        "as they were."
    )
    assert not job.running


@pytest.mark.parametrize(
    ("returncode", "says"),
    [(-signal.SIGSEGV, "was stopped by SIGSEGV"), (3, "exited with code 3 without finishing")],
)
def test_other_deaths_say_how_the_worker_ended(returncode, says):
    assert says in jobs.worker_death_message(returncode)


def test_only_one_job_runs_at_a_time(data, tmp_path):
    runner = JobRunner()
    first = runner.start(WorkerCall("tests.job_targets:wait_for_cancel"), "first")
    with pytest.raises(JobBusy, match="already running"):
        runner.start(training(data, Registry(tmp_path)), "second")
    first.cancel()
    first.wait(timeout=60)
    second = runner.start(WorkerCall("tests.job_targets:echo", {"ok": True}), "after")
    assert second.wait(timeout=60)["result"] == {"ok": True}


def test_a_failing_job_reports_an_error_and_leaves_the_registry_untouched(
    data, tmp_path, tiny_models_dir
):
    registry = Registry(shutil.copytree(tiny_models_dir, tmp_path / "models"))
    good = registry.active_version()

    broken = WorkerCall(
        "tests.job_targets:train_with_a_broken_save",
        {"data": data, "params": resolve_params(TINY_PARAMS), "registry": registry},
    )
    state = JobRunner().start(broken, "bad").wait(timeout=300)
    assert state["status"] == "failed"
    assert state["error"] == "Could not save the model: disk full"
    assert registry.versions() == [good] and registry.active_version() == good


def test_an_unexpected_exception_becomes_a_one_line_error():
    state = JobRunner().start(WorkerCall("tests.job_targets:crash"), "crash").wait(timeout=60)
    assert state["status"] == "failed"
    assert state["error"] == "Training failed: ValueError: boom"


def test_a_plain_callable_runs_on_a_thread_of_this_process():
    state = JobRunner().start(lambda report, stop: {"pid": os.getpid()}, "inline").wait(30)
    assert state["result"] == {"pid": os.getpid()} and state["worker"] is None


def test_a_jobs_clock_starts_when_it_was_asked_for():
    clicked = time.time() - 5  # e.g. the click, before the page validated and imported
    state = JobRunner().start(lambda report, stop: {}, "quick", started=clicked).wait(30)
    assert state["status"] == "succeeded"
    assert state["started"] == clicked
    assert 5 <= state["elapsed"] < 30
