"""A hyperparameter sweep on the GOP tweets against the issue's target: 20 fasttext trials
with pruning in 10 minutes or less on 2 cores, the best at least as good on validation as
the default recipe (trial 0).

    python bench/sweep.py                       # ../shared/data/Sentiment.csv or data/
    python bench/sweep.py --trials 20 --arch fasttext --data path/to/Sentiment.csv

The sweep is the one `python -m pipeline sweep` runs (the default search space), into a
temporary models folder that is deleted afterwards.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.registry import Registry  # noqa: E402
from pipeline.sweep.cli import print_progress  # noqa: E402
from pipeline.sweep.results import (  # noqa: E402
    COMPLETE,
    PRUNED,
    best_trial,
    format_table,
    sweep_table,
)
from pipeline.sweep.space import SweepPlan, build_space  # noqa: E402

TARGET_SECONDS = 600
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

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = load_labelled_data(path)
    plan = SweepPlan(args.arch, args.trials, build_space(args.arch))
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as folder:
        registry = Registry(folder)
        load, started, cpu_started = os.getloadavg()[0], time.perf_counter(), cpu_seconds()
        summary = run_sweep(data, plan, registry, print_progress, data_argument=str(path))
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
        table = sweep_table(registry, summary["sweep"])
    print(format_table(table))
    report(table, seconds, data, plan)
    # On a shared machine the wall time is inflated; the process's CPU time is not (much),
    # and with both cores to itself the sweep would take between cpu / 2 and cpu seconds.
    print(f"CPU time {cpu:.0f} s (user + system, both cores); load average {load:.1f} at "
          f"the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores")  # fmt: skip
    return 0


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(table, seconds: float, data, plan) -> None:
    """The figures against the targets, as Markdown."""
    best = best_trial(table)
    default = table[table["trial"] == 0].iloc[0]
    pruned = int((table["state"] == PRUNED).sum())
    complete = int((table["state"] == COMPLETE).sum())
    print(f"\n{data.source}, {len(data.frame):,} rows, {plan.trials} {plan.architecture} trials "
          f"searching {', '.join(plan.space)}")  # fmt: skip
    others = len(table) - complete - pruned
    print(f"wall time {seconds:.0f} s (target {TARGET_SECONDS} s): "
          f"{'met' if seconds <= TARGET_SECONDS else 'missed'}; "
          f"{complete} complete, {pruned} pruned, {others} other")  # fmt: skip
    print("\n| trial | validation score | val accuracy | val macro-F1 | test accuracy | "
          "test macro-F1 |\n|---|---|---|---|---|---|")  # fmt: skip
    for name, row in (("default (trial 0)", default), (f"best (trial {best['trial']})", best)):
        print(f"| {name} | {row['validation score']:.3f} | {row['val accuracy']:.3f} | "
              f"{row['val macro-F1']:.3f} | {row['test accuracy']:.3f} | "
              f"{row['test macro-F1']:.3f} |")  # fmt: skip
    verdict = "met" if best["validation score"] >= default["validation score"] else "missed"
    print(f"\nbest >= default on validation: {verdict}")


if __name__ == "__main__":
    sys.exit(main())
