"""One MLflow run per training, through MlflowClient; mlflow is imported only when used.

Used by pipeline.tracking when MLFLOW_TRACKING_URI is set. Every call to the tracking server
goes through `MlflowRun._safely`: after the first failure the run is left alone and its
`status` says why, so a server that cannot be reached never costs the training.
"""

import logging
import re
import textwrap
import time
from urllib.parse import urlsplit

CONFUSION_ARTIFACT = "confusion_matrix.json"
VERSION_TAG = "version"
MAX_REASON_CHARS = 500  # of a tracking error kept in the metadata

log = logging.getLogger(__name__)


def metric_name(*parts: str) -> str:
    """A name MLflow accepts (letters, digits, `_-. /`), e.g. for a label with other signs."""
    return re.sub(r"[^\w\-. /]", "_", "_".join(parts))


def final_metrics(metadata: dict) -> dict[str, float]:
    """Test and validation accuracy, macro-F1 and per-class F1, the test ECE (calibration),
    the training time and the epochs run."""
    figures = {}
    for part, key in (("test", "metrics"), ("validation", "validation_metrics")):
        metrics = metadata.get(key, {})
        figures[f"{part}_accuracy"] = metrics["accuracy"]
        figures[f"{part}_macro_f1"] = metrics["macro_f1"]
        for label, scores in metrics.get("per_class", {}).items():
            figures[metric_name(part, "f1", label)] = scores["f1"]
    calibration = metadata.get("calibration") or {}
    if "ece" in calibration:  # after temperature scaling, if it was applied
        figures["test_ece"] = calibration["ece"]
        figures["test_ece_uncalibrated"] = calibration["before"]["ece"]
        figures["temperature"] = calibration["temperature"]
    figures["train_seconds"] = metadata["train_seconds"]
    figures["epochs_run"] = metadata["epochs_run"]
    return figures


def confusion_artifact(metadata: dict) -> dict:
    """The confusion matrices of the test and validation parts, with their label order."""
    return {
        "labels": metadata["labels"],
        "rows": "true label",
        "columns": "predicted label",
        "test": metadata["metrics"]["confusion_matrix"],
        "validation": metadata["validation_metrics"]["confusion_matrix"],
    }


def redact(uri: str, text: str | None = None) -> str:
    """A tracking URI, or a text that quotes it, without the URI's user name and password.

    Args:
        uri: the tracking URI.
        text: e.g. an error message; None for the URI itself.
    """
    text = uri if text is None else text
    userinfo, found, _ = urlsplit(uri).netloc.rpartition("@")
    return text.replace(f"{userinfo}@", "") if found else text


class MlflowRun:
    """One MLflow run, through MlflowClient (no global active run, so threads never mix).

    Every call goes through `_safely`: after the first failure the run is left alone, and
    `status` says why.

    Args:
        tracking_uri: MLflow's tracking URI.
        experiment: the experiment's name; created when missing.
    """

    def __init__(self, tracking_uri: str, experiment: str):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client = None
        self.run_id = None
        self.error = None

    @property
    def status(self) -> dict:
        """Where the run went (URI without credentials, experiment, run id) or why not."""
        status = {"tracking_uri": redact(self.tracking_uri), "experiment": self.experiment}
        if self.run_id:
            status["run_id"] = self.run_id
        if self.error:
            status["error"] = self.error
        return status

    def start(self, params: dict, data: dict, tags: dict) -> None:
        """Create the run with its parameters, data and tags."""
        self._safely("start an MLflow run", self._start, params, data, tags)

    def _start(self, params: dict, data: dict, tags: dict) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Param

        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        run_tags = {"architecture": params.get("architecture"), **tags}
        run = self.client.create_run(
            self._experiment_id(),
            tags={key: str(value) for key, value in run_tags.items()},
            run_name=f"{params.get('architecture')} on {data.get('name')}",
        )
        self.run_id = run.info.run_id
        values = {**params, "data_name": data.get("name"), "data_sha256": data.get("sha256"),
                  "data_rows": data.get("rows_used")}  # fmt: skip
        self.client.log_batch(
            self.run_id, params=[Param(key, str(value)) for key, value in values.items()]
        )

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(self.experiment)
        except MlflowException:  # created meanwhile by another training
            return self.client.get_experiment_by_name(self.experiment).experiment_id

    def log_epoch(self, metrics: dict[str, float], epoch: int) -> None:
        """Log one epoch's figures with step = epoch."""
        self._safely("log an epoch to MLflow", self._log_metrics, metrics, epoch)

    def log_results(self, metadata: dict) -> None:
        """Log the final metrics and the confusion matrices (an artifact)."""
        self._safely("log the results to MLflow", self._log_results, metadata)

    def _log_results(self, metadata: dict) -> None:
        self._log_metrics(final_metrics(metadata), metadata["epochs_run"])
        self.client.log_dict(self.run_id, confusion_artifact(metadata), CONFUSION_ARTIFACT)

    def _log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(name, value, now, step) for name, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def end(self, status: str, version: str | None = None) -> None:
        """Tag the saved version (if any) and end the run: FINISHED, KILLED or FAILED."""
        if version:
            self._safely("tag the MLflow run", self.client.set_tag, self.run_id, VERSION_TAG,
                         version)  # fmt: skip
        self._safely("end the MLflow run", self.client.set_terminated, self.run_id, status)

    def _safely(self, action: str, function, *args) -> None:
        if self.error:  # also when the run could not even start
            return
        try:
            function(*args)
        except Exception as exc:  # any failure of the tracking server, never the training's
            reason = textwrap.shorten(redact(self.tracking_uri, str(exc)), MAX_REASON_CHARS)
            self.error = f"could not {action} at {redact(self.tracking_uri)}: {reason}"
            log.warning("MLflow tracking is off for this training: %s", self.error)
