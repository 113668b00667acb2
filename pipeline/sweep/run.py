"""Running a sweep: an Optuna study whose objective is the project's own training run.

Each trial (pipeline.sweep.objective) trains and saves an ordinary version and returns its
validation score; each epoch's validation accuracy goes to the study's pruner, which can
stop a bad trial after a few epochs. The split, the TF-IDF baseline and the training slot
are shared by every trial, so a trial costs only its own training.
"""

import contextlib
import threading
import time

import optuna

from pipeline.data import LabelledData
from pipeline.errors import ParameterError, TrainingCancelled
from pipeline.jobs import training_slot
from pipeline.registry import Registry
from pipeline.sweep.objective import Objective
from pipeline.sweep.results import (
    SweepRecord,
    WorkerRecord,
    best_trial,
    new_sweep_id,
    sweep_table,
)
from pipeline.sweep.shared import join_study, study_table
from pipeline.sweep.space import SweepPlan, default_trial
from pipeline.wording import plural

# The median pruner stops a trial whose best validation accuracy so far is below the median
# of the completed trials' at the same epoch. It waits for a few completed trials, and
# every trial runs at least PRUNER_WARMUP_EPOCHS epochs (a slow learning rate starts badly).
PRUNER_STARTUP_TRIALS = 3
PRUNER_WARMUP_EPOCHS = 2
# TPE samples at random for its first trials (a third of the sweep, 2 to 10), then models.
SAMPLER_STARTUP_SHARE = 1 / 3


def default_pruner() -> optuna.pruners.BasePruner:
    """The pruner a sweep uses unless given another (see PRUNER_* above)."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EPOCHS
    )


def run_sweep(
    data: LabelledData,
    plan: SweepPlan,
    registry: Registry,
    report=None,
    stop_event: threading.Event | None = None,
    sweep_id: str | None = None,
    data_argument: str | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    storage: str | None = None,
) -> dict:
    """Search hyperparameters: each completed trial is a version tagged with the sweep.

    The first trial is the architecture's defaults (clipped into narrowed ranges), so the
    best trial is never worse on validation than the default recipe. The split seed is
    the same for every trial.

    Args:
        data: validated labelled data.
        plan: what to search and for how long.
        registry: where the trials' versions go.
        report: progress callback: {"event": "trial", "trial", "trials", "params"} when a
            trial starts, the training's own events (ProgressCallback), and
            {"event": "trial_done", "trial", "state", "score", "note"} when it ends.
        stop_event: set it to stop at once; the trials already saved stay.
        sweep_id: the sweep's id; default a new one.
        data_argument: the data file as given on the command line, for the trials'
            `reproduce` commands.
        pruner: an Optuna pruner; default `default_pruner()`.
        storage: a shared study's storage (pipeline.sweep.shared.open_storage), or None for
            a sweep of this process alone. With it, `sweep_id` is the study's name: this
            worker joins the study, runs trials until the study holds `plan.trials` (all
            workers' together), takes no training slot (the registry's own lock keeps the
            workers' saves apart) and keeps no local record (the study is the record).

    Returns:
        The sweep's id, why it stopped ("trials done", "time budget" or "cancelled"), its
        seconds, how many of this worker's trials ended in each state, and the best trial
        (of every worker's, for a shared study; or None).

    Raises:
        JobBusy: another training is running into the same registry.
        StudyUnavailable: the shared study's storage cannot be reached.
    """
    report = report or (lambda event: None)
    stop_event = stop_event or threading.Event()
    sweep_id = sweep_id or new_sweep_id()
    seed = plan.base_params().seed
    started = time.perf_counter()
    trials = plural(plan.trials, f"{plan.architecture} trial")
    description = f"{sweep_id}: {trials} on {data.source}"
    settings = plan.describe(sweep_id, data)
    # A shared study is joined first, so an unreachable database is said before any work.
    study = make_study(plan, sweep_id, pruner, storage, settings)
    slot = contextlib.nullcontext() if storage else training_slot(registry, description)
    with slot:
        record = (WorkerRecord if storage else SweepRecord)(registry, settings)
        stopped = "failed"
        try:
            report({"event": "preparing"})
            prepared = prepare(data, seed, stop_event)
            objective = Objective(data, plan, registry, prepared, record, report, stop_event,
                                  sweep_id, data_argument)  # fmt: skip
            stopped = optimize(study, objective, plan, stop_event, shared=storage is not None)
        except KeyboardInterrupt:
            stopped = "interrupted"
            raise
        finally:
            record.finish(stopped)
    counts = {}
    for trial in record.record["trials"]:
        counts[trial["state"]] = counts.get(trial["state"], 0) + 1
    table = study_table(study, registry) if storage else sweep_table(registry, sweep_id)
    return {
        "sweep": sweep_id,
        "stopped": stopped,
        "seconds": round(time.perf_counter() - started, 1),
        "counts": counts,
        "best": best_trial(table),
    }


def prepare(data: LabelledData, seed: int, stop_event: threading.Event) -> tuple:
    """The split and the TF-IDF baseline every trial shares (the same for all of them)."""
    # Imported only now, so a bad range is answered without loading TensorFlow.
    from pipeline.baseline import baseline_metrics
    from pipeline.data import split_data

    splits = split_data(data, seed=seed)
    return splits, None if stop_event.is_set() else baseline_metrics(splits, data.labels)


def make_study(
    plan: SweepPlan, sweep_id: str, pruner=None, storage: str | None = None,
    settings: dict | None = None,
) -> optuna.Study:  # fmt: skip
    """A maximising study (TPE) whose first trial is the defaults: in memory, seeded by the
    split seed; or shared (`storage`), named `sweep_id`, created or joined.

    A shared study's workers sample unseeded: with one seed, every worker would draw the
    same random values for its first trials.
    """
    base = plan.base_params()
    sampler = optuna.samplers.TPESampler(
        seed=None if storage else base.seed, n_startup_trials=sampler_startup_trials(plan.trials)
    )
    pruner = pruner or default_pruner()
    defaults = default_trial(plan.space, base.to_dict())
    if storage is None:
        study = optuna.create_study(direction="maximize", study_name=sweep_id, sampler=sampler,
                                    pruner=pruner)  # fmt: skip
        study.enqueue_trial(defaults)
        return study
    study = join_study(storage, sweep_id, settings, sampler, pruner)
    study.enqueue_trial(defaults, skip_if_exists=True)  # by the first worker only
    return study


def optimize(
    study: optuna.Study, objective: Objective, plan: SweepPlan, stop_event, shared: bool = False
) -> str:
    """Run the trials; returns why it stopped: "trials done", "time budget" or "cancelled".

    A shared study's worker stops once the study holds `plan.trials` trials, every worker's
    counted (Optuna's MaxTrialsCallback, checked as each trial ends); it starts none when
    the study already holds them.
    """
    callbacks = [lambda study, _: stop_event.is_set() and study.stop()]
    if shared:
        callbacks.append(optuna.study.MaxTrialsCallback(plan.trials, states=None))
    try:
        if stop_event.is_set():  # cancelled while preparing
            raise TrainingCancelled("The sweep was cancelled.")
        if not shared or len(study.get_trials(deepcopy=False)) < plan.trials:
            study.optimize(objective, n_trials=plan.trials, timeout=plan.timeout,
                           catch=(ParameterError,), callbacks=callbacks)  # fmt: skip
    except TrainingCancelled:
        return "cancelled"  # the trials already saved stay
    if stop_event.is_set():
        return "cancelled"
    done = len(study.get_trials(deepcopy=False)) >= plan.trials
    return "trials done" if done else "time budget"


def sampler_startup_trials(trials: int) -> int:
    """How many trials TPE samples at random before it models the results."""
    return min(10, max(2, round(trials * SAMPLER_STARTUP_SHARE)))
