"""Background training jobs: progress, cancel, one at a time, failures leave the registry alone."""

import threading
import time

import pytest

from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.errors import JobBusy, RegistryError
from pipeline.jobs import JobRunner
from pipeline.params import resolve_params
from pipeline.registry import Registry
from pipeline.train import train_and_save
from tests.conftest import TINY_PARAMS


@pytest.fixture(scope="module")
def data():
    return load_labelled_data(config.SAMPLE_DATA_PATH)


def training(data, registry, **overrides):
    params = resolve_params({**TINY_PARAMS, **overrides})
    return lambda report, stop: train_and_save(data, params, registry, report, stop)


def test_a_job_reports_progress_and_saves_a_version(data, tmp_path):
    registry = Registry(tmp_path)
    job = JobRunner().start(training(data, registry), "tiny")
    state = job.wait(timeout=300)
    assert state["status"] == "succeeded", state["error"]
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


def test_cancel_stops_the_job_and_saves_nothing(data, tmp_path):
    registry = Registry(tmp_path)
    gate = threading.Event()

    def target(report, stop):
        def report_then_wait(event):
            report(event)
            if event["event"] == "batch":
                gate.set()
                stop.wait(timeout=60)  # hold the first batch until cancel arrives

        return training(data, registry, epochs=20)(report_then_wait, stop)

    job = JobRunner().start(target, "to cancel")
    assert gate.wait(timeout=120)
    job.cancel()
    state = job.wait(timeout=120)
    assert state["status"] == "cancelled"
    assert (state["epoch"], state["batch"]) == (1, 1)  # stopped right after the first batch
    assert registry.versions() == []


def test_only_one_job_runs_at_a_time(data, tmp_path):
    runner = JobRunner()
    release = threading.Event()
    first = runner.start(lambda report, stop: release.wait(timeout=60) and {}, "first")
    with pytest.raises(JobBusy, match="already running"):
        runner.start(training(data, Registry(tmp_path)), "second")
    release.set()
    first.wait(timeout=60)
    second = runner.start(lambda report, stop: {"ok": True}, "after")
    assert second.wait(timeout=60)["result"] == {"ok": True}


def test_a_failing_job_reports_an_error_and_leaves_the_registry_untouched(
    data, tmp_path, monkeypatch
):
    registry = Registry(tmp_path)
    first = JobRunner().start(training(data, registry), "good").wait(timeout=300)
    good = first["result"]["version"]

    def broken_save(model, metadata, promote=False, files=None):
        raise RegistryError("Could not save the model: disk full")

    monkeypatch.setattr(registry, "save", broken_save)
    state = JobRunner().start(training(data, registry), "bad").wait(timeout=300)
    assert state["status"] == "failed"
    assert state["error"] == "Could not save the model: disk full"
    assert registry.versions() == [good] and registry.active_version() == good


def test_an_unexpected_exception_becomes_a_one_line_error():
    def target(report, stop):
        raise ValueError("boom")

    state = JobRunner().start(target, "crash").wait(timeout=30)
    assert state["status"] == "failed"
    assert state["error"] == "Training failed: ValueError: boom"


def test_a_jobs_clock_starts_when_it_was_asked_for():
    clicked = time.time() - 5  # e.g. the click, before the page validated and imported
    state = JobRunner().start(lambda report, stop: {}, "quick", started=clicked).wait(30)
    assert state["status"] == "succeeded"
    assert state["started"] == clicked
    assert 5 <= state["elapsed"] < 30
