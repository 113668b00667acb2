"""Train, evaluate and save a sentiment model version from the command line.

python train.py --data data/sample.csv --epochs 5
python train.py --help     # every hyperparameter with its default and range
python train.py --ray-address HOST:PORT --models-dir s3://bucket/models ...   # on a Ray cluster
"""

import json
import shlex
import signal
import sys
import threading
import time

from pipeline import config
from pipeline.cli import ArgumentParser, run
from pipeline.cluster import RUNNING_ON, check_can_train, run_on_cluster
from pipeline.data import load_labelled_data
from pipeline.errors import JobFailed, TrainingCancelled
from pipeline.jobs import WorkerCall
from pipeline.params import (
    architecture_help,
    architectures,
    default_params,
    param_specs,
    resolve_params,
)
from pipeline.registry import Registry


def build_parser() -> ArgumentParser:
    """The parser, with one option per hyperparameter, from the recipes' declarations."""
    parser = ArgumentParser(
        prog="train.py",
        description="Train a sentiment model on a labelled CSV and save it as a new version.",
    )
    parser.add_argument(
        "--data",
        default=str(config.KAGGLE_DATA_PATH),
        help="labelled CSV (default: data/Sentiment.csv; data/sample.csv ships with the project)",
    )
    parser.add_argument("--text-column", default=config.DEFAULT_TEXT_COLUMN, help="text column")
    parser.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN, help="label column")
    parser.add_argument(
        "--models-dir", help=f"models folder (default: ${config.MODELS_DIR_ENV} or models/)"
    )
    defaults = {arch: default_params(arch).to_dict() for arch in architectures()}
    for spec in param_specs():
        flag = "--arch" if spec.name == "architecture" else "--" + spec.name.replace("_", "-")
        help_text = f"{spec.help} (default: {spec.default}"
        if spec.name == "architecture":
            help_text = "; ".join(f"{a}: {text}" for a, text in architecture_help().items()) + (
                f" (default: {spec.default}"
            )
        else:
            help_text += "".join(
                f"; {arch}: {values[spec.name]}"
                for arch, values in defaults.items()
                if spec.applies_to(arch) and values[spec.name] != spec.default
            )
            if spec.used_by != architectures():
                help_text += f"; used by {', '.join(spec.used_by)} only"
        help_text += f"; {spec.describe_range()})"
        metavar = "{" + ",".join(spec.choices) + "}" if spec.choices else spec.kind.__name__.upper()
        parser.add_argument(
            flag, dest=spec.name, metavar=metavar, help=help_text.replace("%", "%%")
        )
    parser.add_argument(
        "--ray-address",
        default=config.ray_address(),
        help="train as a task on the Ray cluster at HOST:PORT (default: "
        f"${config.RAY_ADDRESS_ENV}; unset: here); the models must be on object storage "
        "(--models-dir s3://...). Ctrl-C cancels it. Docs: Scaling",
    )
    parser.add_argument("--promote", action="store_true", help="make the new version active")
    parser.add_argument(
        "--json", action="store_true", help="print the result as one JSON line last"
    )
    return parser


def print_progress(event: dict) -> None:
    """Show training progress on stderr, so stdout stays clean for --json."""
    if event["event"] == "split":
        print(
            f"split: {event['train']} train / {event['validation']} validation / "
            f"{event['test']} test rows",
            file=sys.stderr,
        )
    elif event["event"] == "batch" and sys.stderr.isatty():
        print(
            f"\repoch {event['epoch']}/{event['epochs']}  batch {event['batch']}/{event['steps']}",
            end="",
            file=sys.stderr,
            flush=True,
        )
    elif event["event"] == "epoch":
        figures = "  ".join(
            f"{k} {event[k]:.4f}"
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            if k in event
        )
        print(f"\repoch {event['epoch']}/{event['epochs']}  {figures}", file=sys.stderr, flush=True)
    elif event["event"] in ("evaluating", "saving") or event["event"].startswith(RUNNING_ON):
        print(f"{event['event']}...", file=sys.stderr, flush=True)


def train_on_cluster(address: str, kwargs: dict) -> dict:
    """train_and_save(**kwargs) as a task on the Ray cluster at `address`, with its progress
    printed as it comes; Ctrl-C cancels it (nothing is saved then).

    Raises:
        ClusterUnavailable: the cluster cannot be reached; nothing was started.
        TrainingCancelled: Ctrl-C.
        JobFailed: the training failed on the cluster; its message says why.
    """
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    call = WorkerCall("pipeline.train:train_and_save", kwargs, ray_address=address)
    # Imported only now: the worker's module names what runs on the node.
    from pipeline.worker import outcome_of

    kind, payload = run_on_cluster(outcome_of, call, address, print_progress, stop)
    if kind == "cancelled":
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    if kind == "failed":
        raise JobFailed(payload)
    return payload


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, train, and report. Returns the exit code."""
    args = build_parser().parse_args(argv)
    params = resolve_params({spec.name: getattr(args, spec.name) for spec in param_specs()})
    registry = Registry(config.models_dir(args.models_dir))
    if args.ray_address:
        check_can_train(registry.root)
    data = load_labelled_data(args.data, args.text_column, args.label_column)
    if data.rows_dropped:
        print(f"dropped {data.rows_dropped} rows with an empty text or label", file=sys.stderr)
    command = shlex.join(["python", "train.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    if args.ray_address:
        result = train_on_cluster(
            args.ray_address,
            {"data": data, "params": params, "registry": registry, "promote": args.promote,
             "command": command},
        )  # fmt: skip
    else:
        # Imported only now, so --help and input errors answer without loading TensorFlow.
        from pipeline.train import train_and_save

        result = train_and_save(
            data, params, registry, print_progress, promote=args.promote, command=command
        )
    metrics = result["metrics"]
    active = registry.active_version() == result["version"]
    if args.json:
        summary = {
            k: result[k] for k in ("version", "path", "metrics", "train_seconds", "architecture")
        }
        print(json.dumps({**summary, "active": active}))
    else:
        print(
            f"saved version {result['version']} in {result['path']}{' (active)' if active else ''}"
        )
        print(
            f"test accuracy {metrics['accuracy']:.3f}  macro-F1 {metrics['macro_f1']:.3f}  "
            f"trained in {result['train_seconds']:.1f}s "
            f"({time.perf_counter() - started:.1f}s in all)"
        )
        baseline = result["baseline"]["metrics"]
        print(
            f"baseline (tf-idf + logistic regression, same split): accuracy "
            f"{baseline['accuracy']:.3f}  macro-F1 {baseline['macro_f1']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
