"""Run tracking: MLflow runs in a real local (sqlite) tracking store, and TensorBoard logs."""

import json
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.errors import TrainingCancelled
from pipeline.mlflow_run import CONFUSION_ARTIFACT, VERSION_TAG
from pipeline.params import resolve_params
from pipeline.predict import load_model
from pipeline.registry import Registry
from pipeline.tracking import DEFAULT_EXPERIMENT, EXPERIMENT_ENV, TENSORBOARD_FILE, TRACKING_URI_ENV
from pipeline.train import train_and_save
from tests.conftest import TINY_PARAMS

EXPERIMENT = "tracking-tests"
SWEEP_TAGS = {"sweep": "sweep-1", "trial": 3}
# MLflow's HTTP client retries for minutes by default; an unreachable server must not.
FAST_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def sample_data():
    return load_labelled_data(config.SAMPLE_DATA_PATH)


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> str:
    """A sqlite tracking store holding the test experiment, its artifacts in a temp folder."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder}/mlflow.db"
    artifacts = (folder / "artifacts").as_uri()
    MlflowClient(uri).create_experiment(EXPERIMENT, artifact_location=artifacts)
    return uri


@pytest.fixture
def client(mlflow_store, monkeypatch, tmp_path):
    """MLflow configured through its own variables; the client to read the store back."""
    from mlflow import MlflowClient

    monkeypatch.setenv(TRACKING_URI_ENV, mlflow_store)
    monkeypatch.setenv(EXPERIMENT_ENV, EXPERIMENT)
    monkeypatch.chdir(tmp_path)  # a new experiment's artifacts default to ./mlruns
    return MlflowClient(mlflow_store)


@pytest.fixture(scope="module")
def tracked(mlflow_store, sample_data, tmp_path_factory):
    """One tiny sweep-trial training logged to the store: (registry, its metadata, run)."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("tracked-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TRACKING_URI_ENV, mlflow_store)
        patch.setenv(EXPERIMENT_ENV, EXPERIMENT)
        result = train_and_save(
            sample_data, resolve_params(TINY_PARAMS), Registry(root), tags=SWEEP_TAGS
        )
    meta = Registry(root).metadata(result["version"])
    run = MlflowClient(mlflow_store).get_run(meta["tracking"]["mlflow"]["run_id"])
    return Registry(root), meta, run


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """A fresh folder as the temporary directory, to see what a training leaves there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def closed_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metric_steps(client, run_id: str, name: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, name)]


def test_training_logs_params_data_tags_and_the_version(tracked, mlflow_store):
    _, meta, run = tracked
    assert run.info.status == "FINISHED"
    assert run.data.tags[VERSION_TAG] == meta["version"]
    assert run.data.tags["sweep"] == "sweep-1" and run.data.tags["trial"] == "3"
    assert run.data.tags["architecture"] == "fasttext"
    params = run.data.params
    for name, value in meta["params"].items():
        assert params[name] == str(value)
    assert params["data_name"] == meta["data"]["name"] == "sample.csv"
    assert params["data_sha256"] == meta["data"]["sha256"]
    assert meta["tracking"]["mlflow"] == {
        "tracking_uri": mlflow_store,
        "experiment": EXPERIMENT,
        "run_id": run.info.run_id,
    }


def test_every_epoch_is_one_metric_point(tracked, mlflow_store):
    from mlflow import MlflowClient

    _, meta, run = tracked
    client = MlflowClient(mlflow_store)
    epochs = range(1, meta["epochs_run"] + 1)
    for name in ("loss", "val_loss", "accuracy", "val_accuracy"):
        logged = metric_steps(client, run.info.run_id, name)
        assert [step for step, _ in logged] == list(epochs)
        assert [value for _, value in logged] == pytest.approx(meta["history"][name])


def test_final_metrics_are_logged(tracked):
    _, meta, run = tracked
    metrics = run.data.metrics
    assert metrics["test_accuracy"] == pytest.approx(meta["metrics"]["accuracy"])
    assert metrics["test_macro_f1"] == pytest.approx(meta["metrics"]["macro_f1"])
    assert metrics["validation_accuracy"] == pytest.approx(meta["validation_metrics"]["accuracy"])
    assert metrics["validation_macro_f1"] == pytest.approx(meta["validation_metrics"]["macro_f1"])
    for label in meta["labels"]:
        assert metrics[f"test_f1_{label}"] == pytest.approx(
            meta["metrics"]["per_class"][label]["f1"]
        )
    assert metrics["test_ece"] == pytest.approx(meta["calibration"]["ece"])
    assert metrics["epochs_run"] == meta["epochs_run"]


def test_a_final_refits_epochs_are_logged_under_their_own_prefix(client, sample_data, tmp_path):
    params = resolve_params({**TINY_PARAMS, "final_refit": "yes"})
    meta = Registry(tmp_path).metadata(
        train_and_save(sample_data, params, Registry(tmp_path))["version"]
    )
    run = client.get_run(meta["tracking"]["mlflow"]["run_id"])
    refit_epochs = list(range(1, meta["refit"]["epochs"] + 1))
    assert [step for step, _ in metric_steps(client, run.info.run_id, "refit_loss")] == refit_epochs
    # The first run's curve is not continued by the refit's epochs.
    loss = metric_steps(client, run.info.run_id, "loss")
    assert [value for _, value in loss] == pytest.approx(meta["history"]["loss"])
    assert not {"refit", "refit_refit"} & set(run.data.metrics)  # the mark is not a metric


def test_confusion_matrix_is_an_artifact_with_its_label_order(tracked, mlflow_store, tmp_path):
    from mlflow import MlflowClient

    _, meta, run = tracked
    path = MlflowClient(mlflow_store).download_artifacts(
        run.info.run_id, CONFUSION_ARTIFACT, str(tmp_path)
    )
    with open(path, encoding="utf-8") as handle:
        artifact = json.load(handle)
    assert artifact["labels"] == meta["labels"] == ["negative", "neutral", "positive"]
    assert artifact["test"] == meta["metrics"]["confusion_matrix"]
    assert artifact["validation"] == meta["validation_metrics"]["confusion_matrix"]
    assert sum(map(sum, artifact["test"])) == meta["split"]["sizes"]["test"]


def scalars_in(folder, run: str) -> dict[str, list[tuple[int, float]]]:
    """The scalars of one TensorBoard run folder: tag -> [(step, value)] in step order."""
    from pipeline.backend import tf

    scalars = {}
    for path in sorted((folder / run).glob("events.out.tfevents*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                scalars.setdefault(value.tag, []).append((event.step, number))
    return {tag: sorted(points) for tag, points in scalars.items()}


def test_tensorboard_logs_hold_the_history_of_the_metadata(tracked, tmp_path):
    registry, meta, _ = tracked
    path = registry.version_file(meta["version"], TENSORBOARD_FILE)
    assert path is not None and meta["tracking"]["tensorboard"] == TENSORBOARD_FILE
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path)
    train, validation = scalars_in(tmp_path, "train"), scalars_in(tmp_path, "validation")
    epochs = list(range(1, meta["epochs_run"] + 1))
    for run, name, history in (
        (train, "epoch_loss", "loss"),
        (train, "epoch_accuracy", "accuracy"),
        (validation, "epoch_loss", "val_loss"),
        (validation, "epoch_accuracy", "val_accuracy"),
    ):
        assert [step for step, _ in run[name]] == epochs
        assert [value for _, value in run[name]] == pytest.approx(meta["history"][history])


def test_without_the_variable_nothing_is_logged_and_mlflow_is_not_imported(
    sample_data, tmp_path, monkeypatch
):
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # any `import mlflow` now fails
    params = resolve_params({**TINY_PARAMS, "epochs": 1})
    result = train_and_save(sample_data, params, Registry(tmp_path))
    assert result["tracking"] == {"tensorboard": TENSORBOARD_FILE}


def test_the_dashboard_and_the_api_do_not_import_mlflow():
    script = "import sys, api, ui.models_tab, ui.retrain_tab; print('mlflow' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=config.PROJECT_ROOT,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "False"


def test_an_unreachable_server_still_saves_the_version_and_says_why(
    sample_data, tmp_path, monkeypatch, caplog, temp_dir
):
    monkeypatch.setenv(TRACKING_URI_ENV, f"http://user:secret@127.0.0.1:{closed_port()}")
    for name, value in FAST_HTTP.items():
        monkeypatch.setenv(name, value)
    params = resolve_params({**TINY_PARAMS, "epochs": 2})
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="pipeline.mlflow_run"):
        result = train_and_save(sample_data, params, Registry(tmp_path / "models"))
    assert time.perf_counter() - started < 60
    assert Registry(tmp_path / "models").versions() == [result["version"]]
    status = Registry(tmp_path / "models").metadata(result["version"])["tracking"]["mlflow"]
    assert status["error"].startswith("could not start an MLflow run at http://127.0.0.1:")
    assert "run_id" not in status
    assert any("MLflow tracking is off" in r.getMessage() for r in caplog.records)
    assert (
        Registry(tmp_path / "models").version_file(result["version"], TENSORBOARD_FILE) is not None
    )
    assert not list(temp_dir.glob("tensorboard-*"))  # the logs' folder is gone
    assert "secret" not in json.dumps(result)  # the URI's credentials are not recorded


def test_a_cancelled_training_ends_its_run_killed_in_the_default_experiment(
    client, sample_data, tmp_path, monkeypatch, temp_dir
):
    monkeypatch.delenv(EXPERIMENT_ENV)
    stop = threading.Event()

    def cancel(event):
        if event["event"] == "batch":
            stop.set()

    with pytest.raises(TrainingCancelled):
        train_and_save(
            sample_data, resolve_params(TINY_PARAMS), Registry(tmp_path / "models"), cancel, stop
        )
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert VERSION_TAG not in runs[0].data.tags
    assert not Registry(tmp_path / "models").versions()
    assert not list(temp_dir.glob("tensorboard-*"))


def test_a_failed_training_ends_its_run_failed(client, sample_data, tmp_path):
    def fail(event):
        if event["event"] == "split":
            raise RuntimeError("disk on fire")

    before = {r.info.run_id for r in client.search_runs([exp_id(client)])}
    with pytest.raises(RuntimeError, match="disk on fire"):
        train_and_save(sample_data, resolve_params(TINY_PARAMS), Registry(tmp_path), fail)
    new = [r for r in client.search_runs([exp_id(client)]) if r.info.run_id not in before]
    assert [r.info.status for r in new] == ["FAILED"]


def exp_id(client) -> str:
    return client.get_experiment_by_name(EXPERIMENT).experiment_id


def save_without_tensorboard_logs(registry: Registry, version: str) -> str:
    """A copy of a version saved the way versions were before the logs were kept; active."""
    meta = registry.metadata(version)
    old = {k: v for k, v in meta.items() if k not in ("version", "created", "files", "tracking")}
    return registry.save(load_model(registry, version), old, promote=True)


@pytest.mark.usefixtures("fresh_caches")
def test_models_tab_offers_the_tensorboard_logs_of_versions_that_have_them(
    tracked, monkeypatch, tmp_path
):
    registry, meta, _ = tracked
    root = tmp_path / "models"
    shutil.copytree(Path(registry.root) / meta["version"], root / meta["version"])
    old = save_without_tensorboard_logs(Registry(root), meta["version"])
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(root))
    at = AppTest.from_file(str(config.PROJECT_ROOT / "streamlit_app.py"), default_timeout=90)
    at.run()
    assert not at.exception
    assert at.selectbox(key="models_detail").value == old
    assert not [b for b in at.download_button if b.key == "tensorboard_download"]
    assert any("No TensorBoard logs" in c.value for c in at.caption)
    at.selectbox(key="models_detail").select(meta["version"]).run()
    assert not at.exception
    assert at.download_button(key="tensorboard_download").label == "Download TensorBoard logs"
    assert not any("No TensorBoard logs" in c.value for c in at.caption)
