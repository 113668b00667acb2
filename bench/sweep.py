"""A hyperparameter sweep on the GOP tweets, against the default recipe in the same run.

    python bench/sweep.py                       # ../shared/data/Sentiment.csv or data/
    python bench/sweep.py --trials 20 --arch fasttext --data path/to/Sentiment.csv

The sweep is the one `python -m pipeline sweep` runs (the default search space), into a
temporary models folder that is deleted afterwards. Trial 0 is the default recipe, so the
sweep's best trial on validation can never be worse than it there, and is trial 0 itself
when the search finds nothing better; the verdicts are elsewhere:
- the best searched trial (trials 1 and on), chosen on validation, against trial 0 on the
  TEST part (the mean of accuracy and macro-F1, the rule the validation score uses): at
  least 1.00x, or the search found nothing that holds beyond the validation part (missed
  too when no searched trial completed);
- the sweep's wall time against `trials` x one training of the default recipe, timed
  after the sweep in the same process (warm, split and baseline included, as a lone
  training pays them): at most 1.00x, or pruning saved nothing.

The CPU time (user + system, every thread) is reported beside the same product, since on a
shared machine the wall time is inflated and the CPU time much less.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.record import Figure, Reference, Run, at_least, at_most, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.registry import Registry  # noqa: E402
from pipeline.sweep.cli import print_progress  # noqa: E402
from pipeline.sweep.results import (  # noqa: E402
    COMPLETE,
    PRUNED,
    format_table,
    score_on_test,
    sweep_table,
)
from pipeline.sweep.space import SweepPlan, build_space, default_trial  # noqa: E402

DATA_CANDIDATES = (config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv",
                   config.KAGGLE_DATA_PATH)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="default: ../shared/data/Sentiment.csv, else data/")
    parser.add_argument("--arch", default="fasttext")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    path = Path(args.data) if args.data else next((p for p in DATA_CANDIDATES if p.is_file()), None)
    if path is None or not path.is_file():
        print("skipped: the GOP Sentiment.csv is not in ../shared/data/ or data/ (see "
              "data/README.md)")  # fmt: skip
        return 0
    import optuna

    from pipeline.sweep.run import run_sweep

    run = Run(__file__, parser, args)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = load_labelled_data(path)
    plan = SweepPlan(args.arch, args.trials, build_space(args.arch))
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as folder:
        registry = Registry(folder)
        started, cpu_started = time.perf_counter(), cpu_seconds()
        summary = run_sweep(data, plan, registry, print_progress, data_argument=str(path))
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        table = sweep_table(registry, summary["sweep"])
    print(format_table(table))
    one_training = time_default_training(data, plan)
    print(f"one training of the default recipe: {one_training['seconds']:.0f} s", flush=True)
    figures = sweep_figures(table, plan.trials, {"seconds": seconds, "cpu": cpu}, one_training)
    notes = [f"{data.source}, {len(data.frame):,} rows; {plan.trials} {plan.architecture} "
             f"trials searching {', '.join(plan.space)}."]  # fmt: skip
    run.write(figures, f"{variant_of(path)}-{args.arch}", notes)
    return 0


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_default_training(data, plan: SweepPlan) -> dict:
    """Wall and CPU seconds of one training of trial 0's recipe (the defaults), saved into a
    throwaway registry as a lone `train.py` run would."""
    from pipeline.params import resolve_params
    from pipeline.train import train_and_save

    base = plan.base_params()
    params = resolve_params({**base, **default_trial(plan.space, base)})
    with tempfile.TemporaryDirectory(prefix="sweep-bench-reference-") as folder:
        started, cpu_started = time.perf_counter(), cpu_seconds()
        train_and_save(data, params, Registry(folder))
        return {"seconds": time.perf_counter() - started, "cpu": cpu_seconds() - cpu_started}


def sweep_figures(table, trials: int, spent: dict, one_training: dict) -> list[Figure]:
    """The sweep's figures against trial 0 and against `trials` default trainings.

    Args:
        table: sweep_table's result.
        trials: the trials asked for.
        spent: the sweep's "seconds" (wall) and "cpu" (user + system) seconds.
        one_training: the same for one training of the default recipe.
    """
    times = f"{trials} x one default training"
    figures = [
        Figure("wall time", spent["seconds"], "s",
               Reference(times, trials * one_training["seconds"]), at_most(1.0)),
        Figure("CPU time", spent["cpu"], "s", Reference(times, trials * one_training["cpu"])),
    ]  # fmt: skip
    for state in (COMPLETE, PRUNED):
        figures.append(Figure(f"trials {state}", int((table["state"] == state).sum()), "trials"))
    complete = table[table["state"] == COMPLETE]  # best validation score first
    defaults = complete[complete["trial"] == 0]
    searched = complete[complete["trial"] != 0]
    # No trial 0, or no searched trial, to compare: the verdict is missed, not skipped.
    missing = dict.fromkeys(["test accuracy", "test macro-F1", "validation score"], 0.0)
    defaults = defaults.iloc[0].to_dict() if len(defaults) else missing
    best = searched.iloc[0].to_dict() if len(searched) else {"trial": "none", **missing}
    name = f"best searched trial on validation (trial {best['trial']})"
    reference = "trial 0 (the defaults)"
    figures.append(
        Figure(
            f"{name}, test score (mean of accuracy and macro-F1)",
            score_on_test(best),
            "",
            Reference(reference, score_on_test(defaults)),
            at_least(1.0),
        )
    )
    for column in ("test accuracy", "test macro-F1", "validation score"):
        figures.append(
            Figure(f"{name}, {column}", best[column], "", Reference(reference, defaults[column]))
        )
    return figures


if __name__ == "__main__":
    sys.exit(main())
