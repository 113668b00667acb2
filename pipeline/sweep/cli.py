"""`python -m pipeline sweep`: search hyperparameters from the command line.

python -m pipeline sweep --data data/sample.csv --trials 20 --param learning_rate 1e-4 1e-2
"""

import argparse
import sys

from pipeline import config
from pipeline.errors import ParameterError, RegistryError
from pipeline.params import DEFAULT_ARCHITECTURE, architectures
from pipeline.registry import Registry
from pipeline.sweep.space import DEFAULT_TRIALS


def add_sweep_parser(commands) -> argparse.ArgumentParser:
    """Add the `sweep` subcommand to a subparsers object; returns its parser."""
    sweep = commands.add_parser(
        "sweep",
        help="search hyperparameters with Optuna; every completed trial is a version",
        description="Search hyperparameters with Optuna. The first trial is the defaults; "
        "bad trials are pruned after a few epochs; every completed trial is saved as a "
        "version tagged with the sweep.",
    )
    sweep.add_argument(
        "--data", default=str(config.KAGGLE_DATA_PATH), help="labelled CSV (default: "
        "data/Sentiment.csv)",
    )  # fmt: skip
    sweep.add_argument("--text-column", default=config.DEFAULT_TEXT_COLUMN, help="text column")
    sweep.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN, help="label column")
    sweep.add_argument("--arch", default=DEFAULT_ARCHITECTURE, choices=architectures())
    sweep.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                       help=f"most trials (default {DEFAULT_TRIALS}); with --storage, the "
                       "study's total across all its workers: two workers with --trials 20 "
                       "run 20 trials between them, not 40")  # fmt: skip
    sweep.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="start no new trial after this many seconds")  # fmt: skip
    sweep.add_argument(
        "--search", nargs="+", metavar="NAME",
        help="the hyperparameters to search (default: the architecture's usual ones); "
        "each is searched over its whole range (as its recipe declares it) unless --param "
        "narrows it",
    )  # fmt: skip
    sweep.add_argument(
        "--param", nargs="+", action="append", default=[], metavar=("NAME", "LOW HIGH"),
        help="search NAME between LOW and HIGH (inside its own range), or among the choices "
        "given, e.g. --param class_weighting none sqrt; repeatable",
    )  # fmt: skip
    sweep.add_argument(
        "--set", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="fix a hyperparameter that is not searched, e.g. --set epochs 10; repeatable",
    )  # fmt: skip
    sweep.add_argument("--promote-best", action="store_true",
                       help="make the best trial's version active")  # fmt: skip
    sweep.add_argument(
        "--storage", metavar="URL",
        help="share the sweep with other workers, on any machines, through one Optuna "
        "study: postgresql://user@host:port/db, or journal:PATH (a file on a disk every "
        "worker sees). Every worker runs the same command; --models-dir should be the "
        "registry they all see (e.g. s3://...). Needs --study",
    )  # fmt: skip
    sweep.add_argument("--study", metavar="NAME",
                       help="the shared study's name: created by the first worker, joined "
                       "by the others (with --storage)")  # fmt: skip
    return sweep


def print_progress(event: dict) -> None:
    """One line per trial start, epoch and end, on stderr."""
    kind = event["event"]
    if kind == "preparing":
        print("splitting the data and fitting the TF-IDF baseline once...", file=sys.stderr)
    elif kind == "trial":
        values = " ".join(f"{k}={_show(v)}" for k, v in event["params"].items())
        number = event["trial"]
        print(f"trial {number} ({number + 1} of {event['trials']}): {values}", file=sys.stderr)
    elif kind == "epoch" and "val_accuracy" in event:
        print(f"  epoch {event['epoch']}/{event['epochs']}  val_accuracy "
              f"{event['val_accuracy']:.4f}", file=sys.stderr)  # fmt: skip
    elif kind == "trial_done":
        score = f", validation score {event['score']:.4f}" if event["score"] is not None else ""
        note = f" ({event['note']})" if event.get("note") else ""
        print(f"  trial {event['trial']}: {event['state']}{score}{note}", file=sys.stderr,
              flush=True)  # fmt: skip


def _show(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def sweep_command(args) -> int:
    """Run a sweep, print the trials table and the best trial; optionally promote it."""
    import optuna

    from pipeline.data import load_labelled_data
    from pipeline.sweep.results import (
        best_trial,
        describe_best,
        format_table,
        new_sweep_id,
        sweep_table,
    )
    from pipeline.sweep.run import run_sweep
    from pipeline.sweep.shared import load_shared_study, study_table
    from pipeline.sweep.space import SweepPlan, build_space

    if (args.storage is None) != (args.study is None):
        raise ParameterError("--storage and --study go together: the study's storage URL "
                             "and its name.")  # fmt: skip
    ranges = {name: values for name, *values in args.param}
    space = build_space(args.arch, args.search, ranges)
    plan = SweepPlan(args.arch, args.trials, space, args.timeout, dict(args.set))
    plan.base_params()  # a bad --set is refused before the data is read
    data = load_labelled_data(args.data, args.text_column, args.label_column)
    registry = Registry(config.models_dir(args.models_dir))
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # this command prints its own lines
    sweep_id = args.study or new_sweep_id()

    def results():  # a shared study's table holds every worker's trials
        if args.storage is None:
            return sweep_table(registry, sweep_id)
        return study_table(load_shared_study(args.storage, sweep_id), registry)

    try:
        summary = run_sweep(data, plan, registry, print_progress, sweep_id=sweep_id,
                            data_argument=args.data, storage=args.storage)  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C: the trials saved so far, then exit code 130
        print(format_table(results()))
        raise
    table = results()
    print(format_table(table))
    counts = ", ".join(f"{n} {state}" for state, n in summary["counts"].items())
    mine = " by this worker" if args.storage else ""
    print(f"sweep {summary['sweep']}: {counts or 'no trials'}{mine} in "
          f"{summary['seconds']:.0f} s ({summary['stopped']})", file=sys.stderr)  # fmt: skip
    best = best_trial(table)
    if best is None:
        if args.promote_best:
            raise RegistryError("No trial completed, so there is nothing to promote.")
        return 0
    print(f"best: trial {best['trial']}, version {best['version']}, validation score "
          f"{best['validation score']:.4f}", file=sys.stderr)  # fmt: skip
    for line in describe_best(table)[1:]:  # trial 0 beside it, and the best on test
        print(line, file=sys.stderr)
    if args.promote_best:
        registry.promote(best["version"])
        print(f"{best['version']} is now active in {registry.root}", file=sys.stderr)
    return 0
