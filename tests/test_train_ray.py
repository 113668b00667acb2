"""Training on a real local Ray cluster (tests/ray_cluster.py), saving into the registry on
object storage (moto's S3 server): from train.py, and through the dashboard's job seam
(pipeline.jobs.WorkerCall with a Ray address), with progress, curves and cancel as for a
local job. The Retrain tab's own run on the cluster is in tests/test_browser_ray.py."""

# ruff: noqa: F811  (the imported fixtures are parameters of the tests)

import json
import os
import signal
import time
from pathlib import Path

import pytest
from helpers import run_cli
from test_cli import assert_user_error
from test_jobs import training, wait_until
from test_object_store import BUCKET, s3_endpoint, s3_env  # noqa: F401  fixtures

from pipeline import config
from pipeline.cluster import CANCEL_GRACE_SECONDS, RUNNING_ON, connect
from pipeline.data import load_labelled_data
from pipeline.jobs import JobRunner
from pipeline.registry import Registry
from tests.ray_cluster import free_port, ray_address  # noqa: F401  fixture

pytest.importorskip("ray", reason="needs Ray: pip install -r requirements-cluster.txt")

# train.py, with a last line saying whether this process (the Ray driver) loaded TensorFlow.
TRAIN_HERE = (
    "import sys, train; code = train.run(train.main); "
    "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'no tensorflow', "
    "file=sys.stderr); sys.exit(code)"
)
TRAIN_ARGS = ("--data", str(config.SAMPLE_DATA_PATH), "--arch", "fasttext", "--epochs", "2")


def test_train_py_sends_the_training_to_the_cluster_and_saves_into_object_storage(
    ray_address, s3_env
):
    models = f"{s3_env['url']}/models"
    done = run_cli("-c", TRAIN_HERE, *TRAIN_ARGS, "--ray-address", ray_address,
                   "--models-dir", models, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert f"{RUNNING_ON} {ray_address} (2 CPUs, no GPU)..." in lines
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    # It trained on the cluster's node: the driver never loaded TensorFlow.
    assert lines[-1] == "no tensorflow"
    result = json.loads(done.stdout.splitlines()[-1])
    registry = Registry(models)
    assert registry.versions() == [result["version"]]
    metadata = registry.metadata(result["version"])
    assert metadata["architecture"] == "fasttext"
    assert metadata["metrics"] == result["metrics"]
    assert f"--ray-address {ray_address}" in metadata["reproduce"]


def test_an_unreachable_cluster_is_one_line_and_saves_nothing(s3_env):
    models = f"{s3_env['url']}/models"
    address = f"127.0.0.1:{free_port()}"
    done = run_cli("train.py", *TRAIN_ARGS, "--ray-address", address, "--models-dir", models)
    assert_user_error(done, f"No Ray cluster answers at {address}")
    assert Registry(models).versions() == []


def test_a_dashboard_job_sent_to_an_unreachable_cluster_fails_with_the_reason(s3_env):
    registry = Registry(f"{s3_env['url']}/models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    call = training(data, registry)
    address = f"127.0.0.1:{free_port()}"
    job = JobRunner().start(type(call)(call.function, call.kwargs, ray_address=address), "away")
    state = job.wait(timeout=60)
    assert state["status"] == "failed"
    assert state["error"].startswith(f"No Ray cluster answers at {address}")
    assert registry.versions() == []


def test_without_ray_installed_train_py_says_how_to_install_it(s3_env):
    hide_ray = (
        "import sys; sys.modules['ray'] = None; import train; sys.exit(train.run(train.main))"
    )
    done = run_cli("-c", hide_ray, *TRAIN_ARGS, "--ray-address", "127.0.0.1:1",
                   "--models-dir", f"{s3_env['url']}/models")  # fmt: skip
    assert_user_error(done, "needs Ray (ray is missing): pip install -r requirements-cluster.txt")


def test_a_registry_in_a_local_folder_is_refused_before_anything_starts(tmp_path):
    done = run_cli("train.py", *TRAIN_ARGS, "--ray-address", "127.0.0.1:1",
                   "--models-dir", str(tmp_path / "models"))  # fmt: skip
    assert_user_error(done, "the models must be on object storage that every node reaches")
    assert not (tmp_path / "models").exists()


def test_a_dashboard_job_on_the_cluster_shows_progress_and_cancels_freeing_its_cpus(
    ray_address, s3_env
):
    registry = Registry(f"{s3_env['url']}/models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    # Long enough to be cancelled mid-way: 100 epochs of small batches, never stopping early.
    call = training(data, registry, epochs=100, batch_size=8, patience=0)
    job = JobRunner().start(
        type(call)(call.function, call.kwargs, ray_address=ray_address), "on the cluster"
    )
    state = wait_until(job, lambda s: len(s["history"]) >= 2, timeout=180)
    assert state["status"] == "running"
    assert state["epochs"] == 100 and state["steps"] and state["batch"] >= 1
    assert state["where"] == f"on the Ray cluster at {ray_address} (2 CPUs, no GPU)"
    assert {"loss", "val_loss"} <= set(state["history"][0])
    asked = time.monotonic()
    job.cancel()
    state = job.wait(timeout=60)
    assert state["status"] == "cancelled", state["error"]
    # It stopped at a batch's end, as asked, before the grace after which it is forced.
    assert time.monotonic() - asked < CANCEL_GRACE_SECONDS
    assert len(state["history"]) < 100
    assert registry.versions() == []
    # The task on the cluster ended too: its 2 CPUs are free again.
    connect(ray_address)
    import ray

    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2:
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(0.5)


def task_processes() -> list[int]:
    """The Ray workers running a training task now: Ray titles them after the task."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and title.startswith(b"ray::run_task"):
            found.append(int(entry.name))
    return found


def test_a_task_killed_on_its_node_fails_the_job_and_saves_nothing(ray_address, s3_env):
    registry = Registry(f"{s3_env['url']}/models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    call = training(data, registry, epochs=100, batch_size=8, patience=0)
    job = JobRunner().start(
        type(call)(call.function, call.kwargs, ray_address=ray_address), "to be lost"
    )
    wait_until(job, lambda s: len(s["history"]) >= 1, timeout=180)
    (pid,) = task_processes()
    os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer, or a lost node, would
    state = job.wait(timeout=60)
    assert state["status"] == "failed"
    assert state["error"] == (
        f"The training on the Ray cluster at {ray_address} ended without an answer "
        "(WorkerCrashedError). Nothing was saved; the models are as they were."
    )
    assert registry.versions() == []


def test_a_cluster_without_a_large_enough_node_says_so(ray_address, s3_env, monkeypatch):
    monkeypatch.setenv("SENTIMENT_TRAINING_CPUS", "3")
    done = run_cli("train.py", *TRAIN_ARGS, "--ray-address", ray_address,
                   "--models-dir", f"{s3_env['url']}/models")  # fmt: skip
    assert_user_error(done, "No node of the Ray cluster has 3 CPUs for the training")
