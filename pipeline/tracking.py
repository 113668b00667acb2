"""Run tracking where people already look: MLflow when it is configured, TensorBoard always.

Both are written from the training's progress events (recipes.base.ProgressCallback), so
they work the same for every recipe.
- MLflow (pipeline.mlflow_run): when `MLFLOW_TRACKING_URI` is set, each training (and so
  each sweep trial) is one run in the experiment `MLFLOW_EXPERIMENT_NAME` (default
  DEFAULT_EXPERIMENT): parameters,
  data name and SHA-256, per-epoch metrics (step = epoch), the final test and validation
  metrics, the confusion matrices as an artifact, and the saved version's id as the tag
  `version`. mlflow is imported only then, so the dashboard and the API never pay for it.
- TensorBoard: per-epoch scalars in Keras' layout (`train/` and `validation/`, tags
  `epoch_loss`, `epoch_accuracy`...), written to a temporary folder and kept with the
  version as one file, TENSORBOARD_FILE.
A final refit's epochs (train.fit_model) go under `refit/`, and to MLflow as `refit_*`.

A tracking server that cannot be reached never costs the training: the first failure is
logged as a warning, MLflow is left alone for the rest of the run, the version is saved
anyway and its metadata records why under `tracking` (a failure after the save, when the
run is tagged with the version, can only be logged: the metadata is immutable by then).
"""

import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import TrainingCancelled
from pipeline.mlflow_run import MlflowRun

TENSORBOARD_FILE = "tensorboard.zip"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"  # MLflow's own variables
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "tweet-sentiment"
# Fields of an epoch event that are not metrics.
EVENT_FIELDS = ("event", "epoch", "epochs", "refit")  # refit: pipeline.recipes.refit
# The prefix of metrics from the final refit on train + validation (train.fit_model).
REFIT_PREFIX = "refit"

ProgressReport = Callable[[dict], None]


def epoch_metrics(event: dict) -> dict[str, float]:
    """The numeric figures of an epoch event: loss, accuracy, val_loss, val_accuracy..."""
    return {
        name: float(value)
        for name, value in event.items()
        if name not in EVENT_FIELDS and isinstance(value, int | float)
    }


def scalar_metadata():
    """What marks a summary as a TensorBoard scalar.

    tf.summary.scalar (and so keras.callbacks.TensorBoard) lives in the tensorboard
    package, which the app does not install; this is the metadata it writes, so
    tf.summary.write gives the same event files.
    """
    from pipeline.backend import tf

    plugin = tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars")
    return tf.compat.v1.SummaryMetadata(plugin_data=plugin, data_class="DATA_CLASS_SCALAR")


class TensorBoardLog:
    """Per-epoch scalars as TensorBoard event files, in Keras' TensorBoard layout.

    Args:
        folder: an empty folder to write into.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.writers = {}

    def log_epoch(self, event: dict, phase: str = "") -> None:
        """Write one epoch event: `val_x` under validation/, the rest under train/."""
        for name, value in epoch_metrics(event).items():
            part, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self._write(os.path.join(phase, part), f"epoch_{tag}", value, event["epoch"])

    def _write(self, run: str, tag: str, value: float, step: int) -> None:
        from pipeline.backend import tf

        if run not in self.writers:
            self.writers[run] = tf.summary.create_file_writer(str(self.folder / run))
        with self.writers[run].as_default():
            tf.summary.write(tag, tf.constant(value, tf.float32), step, metadata=scalar_metadata())

    def archive(self) -> bytes:
        """Close the writers and zip the folder (paths relative to it, for `unzip -d`)."""
        for writer in self.writers.values():
            writer.close()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(self.folder).as_posix())
        return buffer.getvalue()


class TrainingRun:
    """The tracking of one training: TensorBoard logs, and an MLflow run when configured.

    Args:
        folder: a temporary folder for the TensorBoard logs.
        mlflow_run: the MLflow run, or None when MLFLOW_TRACKING_URI is not set.
    """

    def __init__(self, folder: Path, mlflow_run: MlflowRun | None):
        self.tensorboard = TensorBoardLog(folder)
        self.mlflow = mlflow_run
        self.ended = False

    def wrap(self, report: ProgressReport | None) -> ProgressReport:
        """A progress callback that also logs every epoch, then calls `report`."""

        def tracked(event: dict) -> None:
            if event.get("event") == "epoch":
                self.log_epoch(event)
            if report is not None:
                report(event)

        return tracked

    def log_epoch(self, event: dict) -> None:
        """Log one epoch event; a refit's figures get the prefix `refit`."""
        phase = REFIT_PREFIX if event.get("refit") else ""
        self.tensorboard.log_epoch(event, phase)
        if self.mlflow:
            prefix = f"{phase}_" if phase else ""
            metrics = {f"{prefix}{name}": value for name, value in epoch_metrics(event).items()}
            self.mlflow.log_epoch(metrics, event["epoch"])

    def files(self) -> dict[str, bytes]:
        """The files to save with the version: TENSORBOARD_FILE."""
        return {TENSORBOARD_FILE: self.tensorboard.archive()}

    def log_results(self, metadata: dict) -> dict:
        """Log the final metrics; returns what to record in the metadata under `tracking`."""
        status = {"tensorboard": TENSORBOARD_FILE}
        if self.mlflow:
            self.mlflow.log_results(metadata)
            status["mlflow"] = self.mlflow.status
        return status

    def finish(self, version: str) -> None:
        """Tag the MLflow run with the saved version and end it as FINISHED."""
        self.end("FINISHED", version)

    def end(self, status: str, version: str | None = None) -> None:
        """End the MLflow run once (FINISHED, KILLED or FAILED)."""
        if self.mlflow and not self.ended:
            self.mlflow.end(status, version)
        self.ended = True


def mlflow_run_from_env() -> MlflowRun | None:
    """An MLflow run for MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_NAME, or None if unset."""
    uri = os.environ.get(TRACKING_URI_ENV)
    if not uri:
        return None
    return MlflowRun(uri, os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT)


@contextmanager
def track_training(params: dict, data: dict, tags: dict | None = None) -> Iterator[TrainingRun]:
    """Track one training; a cancelled run ends KILLED, a failed one FAILED.

    Args:
        params: the validated hyperparameters.
        data: the data's description (LabelledData.describe()).
        tags: extra run tags, e.g. {"sweep": id, "trial": n}.

    Yields:
        The TrainingRun: wrap the progress callback with it, add its `files()` to the
        version, record `log_results(metadata)` and call `finish(version)` once saved.
    """
    with tempfile.TemporaryDirectory(prefix="tensorboard-") as folder:
        run = TrainingRun(Path(folder), mlflow_run_from_env())
        if run.mlflow:
            run.mlflow.start(params, data, tags or {})
        try:
            yield run
        except (TrainingCancelled, KeyboardInterrupt):
            run.end("KILLED")
            raise
        except BaseException:
            run.end("FAILED")
            raise
        finally:
            run.end("FINISHED")  # no-op when already ended
