"""Concurrency: one training per models folder across processes, and a thread-safe predictor."""

import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.errors import JobBusy
from pipeline.jobs import JobRunner, training_slot
from pipeline.params import resolve_params
from pipeline.predict import load_model, load_predictor
from pipeline.registry import Registry

THREADS = 16
TINY = {"epochs": 1, "vocab_size": 2000, "embedding_dim": 16}
TRAIN_PY = [sys.executable, "train.py", "--data", str(config.SAMPLE_DATA_PATH)]
TRAIN_PY_TINY = ["--epochs", "1", "--vocab-size", "2000", "--embedding-dim", "16"]


@pytest.fixture
def models_dir(tiny_models_dir, tmp_path):
    shutil.copytree(tiny_models_dir, tmp_path / "models")
    return tmp_path / "models"


def test_a_second_training_into_the_same_folder_is_refused_and_says_who_holds_it(models_dir):
    registry = Registry(models_dir)
    busy = pytest.raises(JobBusy, match=r"train\.py on Sentiment\.csv, process \d+")
    with training_slot(registry, "train.py on Sentiment.csv"), busy:
        training_slot(Registry(models_dir), "the dashboard").__enter__()
    with training_slot(registry, "the slot is free again"):
        pass


def test_the_app_refuses_to_train_while_train_py_trains_into_its_folder(models_dir):
    from pipeline.train import train_and_save

    registry = Registry(models_dir)
    before = registry.versions()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(models_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=config.PROJECT_ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        data = load_labelled_data(config.SAMPLE_DATA_PATH)
        job = JobRunner().start(
            lambda report, stop: train_and_save(data, resolve_params(TINY), registry, report),
            "dashboard retrain",
        )
        state = job.wait(timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert state["status"] == "failed"
    assert "Another training is running" in state["error"]
    assert "python train.py --data data/Sentiment.csv" in state["error"]
    assert registry.versions() == before
    # The killed holder's lock went with it: training works at once.
    train_and_save(load_labelled_data(config.SAMPLE_DATA_PATH), resolve_params(TINY), registry)
    assert len(registry.versions()) == len(before) + 1


# Takes the slot the way train.py does, in another process, until it is killed.
HOLD_SLOT = """
import sys, time
from pipeline.jobs import training_slot
from pipeline.registry import Registry
with training_slot(Registry(sys.argv[1]), "python train.py --data data/Sentiment.csv"):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_two_train_py_runs_at_once_leave_a_consistent_registry(models_dir):
    registry = Registry(models_dir)
    active, before = registry.active_version(), registry.versions()
    command = [*TRAIN_PY, "--models-dir", str(models_dir), *TRAIN_PY_TINY, "--promote"]
    runs = [
        subprocess.Popen(command, cwd=config.PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for code, stderr in results:
        assert "Traceback" not in stderr
        assert code == 0 or (code == 2 and "Another training is running" in stderr), stderr
    succeeded = sum(code == 0 for code, _ in results)
    assert succeeded >= 1
    new = [v for v in registry.versions() if v not in before]
    assert len(new) == succeeded
    assert registry.active_version() in new and registry.active_version() != active
    for version in registry.versions():
        load_model(registry, version)


@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_the_predictor_gives_the_same_answers_from_16_threads(tiny_models_dir, backend):
    predictor = load_predictor(tiny_models_dir, backend=backend)
    texts = load_labelled_data(config.SAMPLE_DATA_PATH).frame["text"].tolist()
    # Batches of different sizes, one text up to 64, as sessions would send them.
    batches = [texts[i : i + 1 + i % 64] for i in range(0, len(texts), 37)]
    expected = [predictor.predict_proba(batch) for batch in batches]

    start = threading.Barrier(THREADS)

    def worker(offset: int) -> list[tuple[int, np.ndarray]]:
        start.wait()  # all threads call the predictor at the same moment
        order = [(offset + k) % len(batches) for k in range(len(batches))]
        return [(i, predictor.predict_proba(batches[i])) for i in order]

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(worker, range(THREADS)))
    for outcome in outcomes:
        assert len(outcome) == len(batches)
        for i, probabilities in outcome:
            np.testing.assert_allclose(probabilities, expected[i], rtol=0, atol=1e-6)
            assert (probabilities.argmax(axis=1) == expected[i].argmax(axis=1)).all()
