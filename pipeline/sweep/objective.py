"""A sweep's objective: one Optuna trial is one ordinary training run of the project.

The objective asks the trial for its values, trains and saves a version through
`train.train_and_save_prepared` (the split and baseline shared by every trial), and returns
the validation score; each epoch's validation accuracy goes to the pruner on the way.
"""

import shlex
import threading
import time
from dataclasses import dataclass

import optuna

from pipeline import config
from pipeline.data import LabelledData
from pipeline.errors import ParameterError, TrainingCancelled
from pipeline.params import TrainingParams, default_params, resolve_params
from pipeline.recipes import check_model_size
from pipeline.registry import Registry
from pipeline.sweep.results import (
    CANCELLED,
    COMPLETE,
    FAILED,
    PRUNED,
    SweepRecord,
    validation_score,
)
from pipeline.sweep.shared import worker_name
from pipeline.sweep.space import SweepPlan


class PruningReport:
    """A trial's progress callback: passes every event on, and reports each epoch's
    validation accuracy to the trial, stopping the run when the pruner says so.

    Args:
        trial: the Optuna trial.
        report: the sweep's own progress callback.
    """

    def __init__(self, trial: optuna.Trial, report):
        self.trial = trial
        self.report = report
        self.accuracies: list[float] = []

    def __call__(self, event: dict) -> None:
        self.report(event)
        # A final refit's epochs (marked "refit") say nothing new about validation.
        if event["event"] != "epoch" or event.get("refit") or "val_accuracy" not in event:
            return
        self.accuracies.append(event["val_accuracy"])
        self.trial.report(event["val_accuracy"], event["epoch"])
        if self.trial.should_prune():
            raise TrialStopped(f"stopped after epoch {event['epoch']}")


class TrialStopped(TrainingCancelled):
    """The pruner stopped a trial; it saved nothing (MLflow records the run as killed)."""


def trial_command(
    data: LabelledData, params: TrainingParams, data_argument: str | None = None
) -> str:
    """The train.py command line that trains a trial's version again.

    Args:
        data: the sweep's data.
        params: the trial's hyperparameters.
        data_argument: the data file as given on the command line; default its name.

    Returns:
        E.g. "python train.py --data data/sample.csv --arch fasttext --dropout 0.12".
    """
    words = ["python", "train.py", "--data", data_argument or data.source]
    for flag, value, default in (
        ("--text-column", data.text_column, config.DEFAULT_TEXT_COLUMN),
        ("--label-column", data.label_column, config.DEFAULT_LABEL_COLUMN),
    ):
        if value != default:
            words += [flag, value]
    words += ["--arch", params.architecture]
    defaults = default_params(params.architecture).to_dict()
    for name, value in params.to_dict().items():
        if name != "architecture" and value != defaults[name]:
            words += ["--" + name.replace("_", "-"), f"{value:g}" if isinstance(value, float)
                      else str(value)]  # fmt: skip
    return shlex.join(words)


@dataclass
class Objective:
    """One trial: ask the study for values, train and save a version, return its score.

    Attributes:
        data: the sweep's data.
        plan: the sweep's plan.
        registry: where the versions go.
        prepared: the split and the TF-IDF baseline, computed once: (splits, baseline).
        record: the sweep's record.
        report: the sweep's progress callback.
        stop_event: the sweep's cancel.
        sweep_id: the sweep's id, for the versions' tags.
        data_argument: see run_sweep.
    """

    data: LabelledData
    plan: SweepPlan
    registry: Registry
    prepared: tuple
    record: SweepRecord
    report: object
    stop_event: threading.Event
    sweep_id: str
    data_argument: str | None

    def __call__(self, trial: optuna.Trial) -> float:
        if self.stop_event.is_set():
            raise TrainingCancelled("The sweep was cancelled.")
        values = {name: search.suggest(trial) for name, search in self.plan.space.items()}
        params = resolve_params({**self.plan.base_params().to_dict(), **values})
        self.record.start_trial(trial.number, values)
        trial.set_user_attr("worker", worker_name())  # a shared study's table shows it
        self.report({"event": "trial", "trial": trial.number, "trials": self.plan.trials,
                     "params": values})  # fmt: skip
        pruning, started = PruningReport(trial, self.report), time.perf_counter()

        def end(state: str, **figures) -> None:
            seconds = round(time.perf_counter() - started, 2)
            self.record.end_trial(trial.number, state, values, seconds=seconds, **figures)
            for key, value in {"state": state, "seconds": seconds, **figures}.items():
                trial.set_user_attr(key, value)  # which worker saved which version
            self.report({"event": "trial_done", "trial": trial.number, "state": state,
                         "score": figures.get("score"), "note": figures.get("note")})  # fmt: skip

        try:
            result = self.train(trial.number, params, pruning)
        except TrialStopped as stopped:
            end(PRUNED, epochs=len(pruning.accuracies), val_accuracy=max(pruning.accuracies),
                note=str(stopped))  # fmt: skip
            raise optuna.TrialPruned(str(stopped)) from None
        except ParameterError as exc:  # over the server's size cap: the sweep goes on
            end(FAILED, note=str(exc))
            raise
        except TrainingCancelled:
            end(CANCELLED, epochs=len(pruning.accuracies), note="stopped on request")
            raise
        score = validation_score(result["validation_metrics"])
        end(COMPLETE, score=score, version=result["version"], epochs=result["epochs_run"])
        return score

    def train(self, number: int, params: TrainingParams, report: PruningReport) -> dict:
        """Train and save one trial's version on the shared split and baseline."""
        from pipeline.train import train_and_save_prepared

        check_size(params, len(self.data.labels), self.plan.max_parameters)
        splits, baseline = self.prepared
        return train_and_save_prepared(
            self.data, params, self.registry, splits, baseline, report, self.stop_event,
            command=trial_command(self.data, params, self.data_argument),
            tags={"sweep": self.sweep_id, "trial": number},
        )  # fmt: skip


def check_size(params: TrainingParams, n_classes: int, max_parameters: int | None) -> None:
    """Refuse a trial's network over a server's cap of weights (a failed trial)."""
    if max_parameters is not None:
        check_model_size(params, n_classes, max_parameters)
