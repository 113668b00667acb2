"""Training: each recipe trained and saved as a version, timed and measured in its own process.

    python bench/training.py --data data/Sentiment.csv
    python bench/training.py --data data/Sentiment.csv --runs minilm-frozen-cold minilm-frozen-warm

Every run is `train_and_save` in a fresh Python process (as `train.py` runs it): the wall
time from starting Python to the saved version, the train-and-save job's own time
(`job_seconds`, what the Retrain tab's estimate predicts), the time `fit` took, the
process's peak resident memory (VmHWM: fitting, evaluation, the LiteRT conversion and its
check, saving), the test and validation scores, and when each phase began. The same run
times a bare `python -c "import tensorflow"` as the machine's reference for every run's
wall time, and the tutorial's `lstm` recipe (2 epochs timed, scaled to its 10). Targets,
each against another run of the same invocation (left out when that run is not in it):
- the default recipe's peak RSS at most 1.00x the same recipe's on oneDNN's caching
  allocator (the tuned malloc is the default because it lowers the peak; its wall time is
  reported beside);
- `minilm-frozen` with its embeddings cached: its wall time at most 1.00x the cold run's;
- `fasttext`'s fit at most 1.00x the tutorial `lstm` fit scaled to its 10 epochs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from pipeline import config  # noqa: E402

# name -> (architecture, parameter overrides, environment). minilm+fasttext is the shipped
# default's recipe; its oneDNN run keeps TensorFlow's own caching allocator instead of the
# tuned malloc the project starts it with (pipeline/backend.py), for the memory and time
# ratios in one run.
ONEDNN = {config.ALLOCATOR_ENV: "onednn"}
RUNS = {
    "minilm+fasttext": ("minilm+fasttext", {}, {}),
    "minilm+fasttext, oneDNN allocator": ("minilm+fasttext", {}, ONEDNN),
    "minilm": ("minilm", {}, {}),
    "minilm-frozen-cold": ("minilm-frozen", {}, {}),  # an empty embedding cache
    "minilm-frozen-warm": ("minilm-frozen", {}, {}),  # the cache the cold run filled
    "fasttext": ("fasttext", {}, {}),
    "lstm-2-epochs": ("lstm", {"epochs": 2, "patience": 0}, {}),  # the tutorial's recipe
}
DEFAULT_RUNS = [name for name in RUNS if name != "minilm"]
TUTORIAL_EPOCHS = 10
MIB = 1024


def child(args) -> None:
    """One run, in this process: train and save, then print a JSON line of figures."""
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    started = time.perf_counter()
    phases = []

    def report(event):
        if event["event"] not in ("batch", "embedding") and (
            not phases or phases[-1][0] != event["event"]
        ):
            phases.append((event["event"], round(time.perf_counter() - started, 1)))

    data = load_labelled_data(args.data)
    overrides = json.loads(args.params)
    params = resolve_params({**overrides, "seed": args.seed})
    metadata = train_and_save(data, params, Registry(args.models_dir), report)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    print(
        json.dumps(
            {
                "architecture": params.architecture,
                "train_seconds": metadata["train_seconds"],
                "job_seconds": metadata["job_seconds"],
                "epochs_run": metadata["epochs_run"],
                "peak_rss_mib": int(status["VmHWM"].split()[0]) // MIB,
                "test": [metadata["metrics"]["accuracy"], metadata["metrics"]["macro_f1"]],
                "validation": [
                    metadata["validation_metrics"]["accuracy"],
                    metadata["validation_metrics"]["macro_f1"],
                ],
                "phases": phases,
            }
        )
    )


def run_child(name: str, data: str, seed: int, models_dir: str, cache_dir: str) -> dict:
    """Run one named run in a fresh process; its figures plus the wall time around it."""
    architecture, overrides, variables = RUNS[name]
    params = {**overrides, "architecture": architecture}
    command = [
        sys.executable, __file__, "--child", "--data", data, "--seed", str(seed),
        "--models-dir", models_dir, "--params", json.dumps(params),
    ]  # fmt: skip
    environment = {**os.environ, config.CACHE_DIR_ENV: cache_dir, **variables}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_seconds": wall}


def bare_import_seconds() -> float:
    """Wall time of `python -c "import tensorflow"`: how fast the machine is right now."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
    return time.perf_counter() - started


# (run, the run it is measured against, the figure compared, its target)
PAIRS = (
    ("minilm+fasttext", "minilm+fasttext, oneDNN allocator", "peak_rss_mib", at_most(1.0)),
    ("minilm+fasttext", "minilm+fasttext, oneDNN allocator", "wall_seconds", None),
    ("minilm-frozen-warm", "minilm-frozen-cold", "wall_seconds", at_most(1.0)),
)
UNITS = {"wall_seconds": "s", "job_seconds": "s", "train_seconds": "s", "peak_rss_mib": "MiB"}
NAMES = {"wall_seconds": "in all", "job_seconds": "train-and-save job", "train_seconds": "fit",
         "peak_rss_mib": "peak RSS"}  # fmt: skip


def training_figures(results: dict, bare_import: float) -> list[Figure]:
    """Each run's figures (its wall time against a bare TensorFlow import), and the PAIRS.

    Args:
        results: {run name: the child's figures plus "wall_seconds"}.
        bare_import: seconds of a bare `python -c "import tensorflow"`.
    """
    pairs = {(run, key): (other, target) for run, other, key, target in PAIRS}
    figures = []
    for name, r in results.items():
        for key, label in NAMES.items():
            other, target = pairs.get((name, key), (None, None))
            if other in results:
                reference = Reference(f"{other}, {label}", results[other][key])
            elif key == "wall_seconds":
                reference, target = Reference("bare `import tensorflow`", bare_import), None
            else:
                reference, target = None, None
            figures.append(Figure(label, r[key], UNITS[key], reference, target, name))
        figures += [
            Figure("epochs", r["epochs_run"], "epochs", group=name),
            Figure("test accuracy", r["test"][0], "", group=name),
            Figure("test macro-F1", r["test"][1], "", group=name),
            Figure("validation accuracy", r["validation"][0], "", group=name),
            Figure("validation macro-F1", r["validation"][1], "", group=name),
        ]
    if "fasttext" in results and "lstm-2-epochs" in results:
        tutorial = results["lstm-2-epochs"]["train_seconds"] / 2 * TUTORIAL_EPOCHS
        figures.append(
            Figure(
                "fit",
                results["fasttext"]["train_seconds"],
                "s",
                Reference(f"tutorial lstm fit, scaled to {TUTORIAL_EPOCHS} epochs", tutorial),
                at_most(1.0),
                "fasttext against the tutorial",
            )  # fmt: skip
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.KAGGLE_DATA_PATH))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=DEFAULT_RUNS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--models-dir", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    run = Run(__file__, parser, args)
    reference = bare_import_seconds()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        cache = str(Path(folder, "cache"))  # empty for the first frozen run
        for name in args.runs:
            results[name] = run_child(name, args.data, args.seed, str(Path(folder, name)), cache)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
    reference = min(reference, bare_import_seconds())
    print(f"\n{args.data}, split seed {args.seed}")
    print(f"bare `import tensorflow`: {reference:.1f} s (the faster of two, before and after)")
    allocator = os.environ.get(config.ALLOCATOR_ENV) or config.ALLOCATORS[0]
    print(f"{config.ALLOCATOR_ENV}: {allocator} (each run's own setting is in its name)\n")
    columns = "in all (s) | job (s) | fit (s) | epochs | peak RSS (MiB) | test acc / F1"
    print(f"| run | architecture | {columns} |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        test = f"{r['test'][0]:.4f} / {r['test'][1]:.4f}"
        print(
            f"| {name} | {r['architecture']} | {r['wall_seconds']:.1f} | {r['job_seconds']:.1f} "
            f"| {r['train_seconds']:.1f} "
            f"| {r['epochs_run']} | {r['peak_rss_mib']:,} | {test} |"
        )
    if "lstm-2-epochs" in results:
        tutorial = results["lstm-2-epochs"]["train_seconds"] / 2 * TUTORIAL_EPOCHS
        print(f"\ntutorial lstm fit, scaled to {TUTORIAL_EPOCHS} epochs: {tutorial:.1f} s")
    for name, r in results.items():
        phases = ", ".join(f"{event} {seconds} s" for event, seconds in r["phases"])
        print(f"\n{name} phases (seconds after start): {phases}")
        print(f"{name} in all / bare import: {r['wall_seconds'] / reference:.1f}x")
    notes = [
        f"{config.ALLOCATOR_ENV}: {allocator} (each run's own setting is in its name); "
        f"split seed {args.seed}; the bare import is the faster of two, before and after."
    ]
    notes += [f"{name} phases (seconds after start): "
              + ", ".join(f"{event} {seconds} s" for event, seconds in r["phases"])
              for name, r in results.items()]  # fmt: skip
    run.write(training_figures(results, reference), variant_of(args.data), notes)


if __name__ == "__main__":
    main()
