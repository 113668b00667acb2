"""Training on the bundled sample: loss falls, progress is reported, cancel saves nothing."""

import json
import shutil
import threading

import numpy as np
import pytest

from pipeline.data import load_labelled_data
from pipeline.errors import TrainingCancelled
from pipeline.params import resolve_params
from pipeline.predict import load_predictor
from pipeline.registry import Registry
from pipeline.train import train_and_save
from tests.conftest import TINY_PARAMS


@pytest.fixture(scope="module")
def sample_data():
    from pipeline import config

    return load_labelled_data(config.SAMPLE_DATA_PATH)


def test_training_lowers_the_loss_and_saves_a_version_that_loads(sample_data, tmp_path):
    events = []
    result = train_and_save(
        sample_data, resolve_params(TINY_PARAMS), Registry(tmp_path), events.append
    )
    losses = result["history"]["loss"]
    assert losses[-1] < losses[0]
    assert result["metrics"]["accuracy"] > 0.4  # above chance (1/3) on three balanced classes
    for key in ("accuracy", "macro_f1", "per_class", "confusion_matrix"):
        assert key in result["metrics"]
    meta = Registry(tmp_path).metadata(result["version"])
    assert meta["labels"] == ["negative", "neutral", "positive"]
    assert meta["data"]["sha256"] == sample_data.sha256
    assert meta["params"]["seed"] == TINY_PARAMS.get("seed", 42)
    assert {"tensorflow", "keras"} <= set(meta["versions"])
    predictor = load_predictor(tmp_path, result["version"])
    probabilities = predictor.predict_proba(["what a great night", "awful"])
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == result["epochs_run"]
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(epochs[0])
    assert any(e["event"] == "batch" and e["steps"] for e in events)


def test_expected_training_time_follows_the_newest_version_s_whole_job(tiny_models_dir):
    from pipeline import config
    from pipeline.estimate import expected_training_seconds
    from pipeline.recipes import RECIPES

    registry = Registry(tiny_models_dir)
    meta = registry.list()[0]
    assert meta["job_seconds"] > meta["train_seconds"] > 0  # the job also evaluates and saves
    rows = 10_000
    train_rows = rows * (1 - config.VALIDATION_SHARE - config.TEST_SHARE)
    seconds, basis = expected_training_seconds(registry, meta["architecture"], rows)
    assert seconds == pytest.approx(
        meta["job_seconds"] / meta["split"]["sizes"]["train"] * train_rows
    )
    assert meta["version"] in basis
    # With no version of the recipe in the registry: this machine's reference rate.
    other = next(a for a in RECIPES if a != meta["architecture"])
    seconds, basis = expected_training_seconds(registry, other, rows)
    assert seconds == pytest.approx(RECIPES[other].seconds_per_row * train_rows)
    assert basis == "on a 2-core machine"


def _without_job_time(meta: dict) -> None:
    del meta["job_seconds"]  # as saved before 2026-12-04, and as the shipped versions are


def _refit(meta: dict) -> None:
    meta["refit"] = {"epochs": 2, "rows": 600}  # its job time is about twice the defaults'


@pytest.mark.parametrize("edit", [_without_job_time, _refit], ids=["no job time", "refit"])
def test_a_version_that_does_not_time_the_defaults_gives_no_rate(tiny_models_dir, tmp_path, edit):
    from pipeline import config
    from pipeline.estimate import expected_training_seconds
    from pipeline.recipes import RECIPES

    copy = shutil.copytree(tiny_models_dir, tmp_path / "models")
    meta = Registry(copy).list()[0]
    metadata_file = copy / meta["version"] / "metadata.json"
    edited = json.loads(metadata_file.read_text())
    edit(edited)
    metadata_file.write_text(json.dumps(edited))
    rows = 10_000
    train_rows = rows * (1 - config.VALIDATION_SHARE - config.TEST_SHARE)
    seconds, basis = expected_training_seconds(Registry(copy), meta["architecture"], rows)
    assert basis == "on a 2-core machine"
    assert seconds == pytest.approx(RECIPES[meta["architecture"]].seconds_per_row * train_rows)


def test_early_stopping_restores_the_best_epoch(sample_data, tmp_path):
    params = resolve_params({**TINY_PARAMS, "epochs": 30, "patience": 1, "learning_rate": 0.05})
    result = train_and_save(sample_data, params, Registry(tmp_path))
    val_losses = result["history"]["val_loss"]
    assert result["epochs_run"] < 30
    # The saved model is the best epoch's: its validation loss is the run's minimum.
    assert np.argmin(val_losses) == len(val_losses) - 2


def test_cancel_stops_at_the_next_batch_and_saves_nothing(sample_data, tmp_path):
    stop = threading.Event()
    batches = []

    def report(event):
        if event["event"] == "batch":
            batches.append(event)
            stop.set()

    registry = Registry(tmp_path)
    with pytest.raises(TrainingCancelled):
        train_and_save(sample_data, resolve_params(TINY_PARAMS), registry, report, stop)
    assert len(batches) == 1
    assert registry.versions() == []
