"""Memory: the serving process's RSS, and the peak of a retrain inside it, beside references.

    python bench/memory.py --data data/Sentiment.csv
    python bench/memory.py --data data/Sentiment.csv --arch minilm+fasttext   # minutes

Each figure comes from its own fresh process, so peaks do not mix:
- serve: load the active model the way the app does and score 10,000 texts one by one
  (the first 2,000) and in a batch; RSS after. Reference: a bare `import tensorflow` in a
  fresh process, which serving skips. Target: at most 1.00x, or serving pays for
  TensorFlow after all.
- retrain: the same serving process, then a retrain of `--arch` (default: the recipe
  trained when none is named, `pipeline.params.DEFAULT_ARCHITECTURE`) on the data into a
  throwaway registry, as the Retrain tab does; peak RSS. Reference: the serving process's
  RSS plus the peak of the same training alone in a fresh process (as `train.py` runs
  it). Target: at most 1.00x: retraining inside the dashboard may cost what serving and
  training cost apart, and no more (the interpreter and the libraries that both processes
  load count once here, so a retrain that holds nothing twice stays under).
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402

SERVED_TEXTS, ONE_BY_ONE = 10_000, 2_000


def current_rss_mib() -> float:
    """This process's resident set size now, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(data: str) -> None:
    from pipeline import load_predictor
    from pipeline.data import load_labelled_data

    texts = load_labelled_data(data).frame["text"].tolist()[:SERVED_TEXTS]
    predictor = load_predictor()
    for text in texts[:ONE_BY_ONE]:
        predictor.predict([text])
    predictor.predict_proba(texts)


def train(data: str, arch: str) -> int:
    """Train `arch` with its defaults into a throwaway registry; the epochs it ran."""
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    with tempfile.TemporaryDirectory() as scratch:
        params = resolve_params({"architecture": arch})
        return train_and_save(load_labelled_data(data), params, Registry(scratch))["epochs_run"]


def measure(kind: str, data: str, arch: str) -> dict:
    """Run one measurement in this process; returns the figures."""
    if kind == "import_tensorflow":
        from pipeline.backend import tf  # noqa: F401

        return {"rss_mib": current_rss_mib()}
    if kind == "train":
        return {"epochs": train(data, arch), "peak_rss_mib": peak_rss_mib()}
    serve(data)
    if kind == "serve":
        return {"rss_mib": current_rss_mib(), "tensorflow_loaded": "tensorflow" in sys.modules}
    return {"epochs": train(data, arch), "peak_rss_mib": peak_rss_mib()}


def in_fresh_process(kind: str, data: str, arch: str) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--data", data, "--arch", arch]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/Sentiment.csv")
    parser.add_argument("--arch", help="the recipe retrained (default: the default recipe)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.data, args.arch)))
        return
    from pipeline.params import resolve_params

    run = Run(__file__, parser, args)
    arch = args.arch or resolve_params({})["architecture"]
    served = in_fresh_process("serve", args.data, arch)
    bare_tf = in_fresh_process("import_tensorflow", args.data, arch)
    retrain = in_fresh_process("retrain", args.data, arch)
    alone = in_fresh_process("train", args.data, arch)
    figures = [
        Figure(
            f"serving process after {SERVED_TEXTS + ONE_BY_ONE:,} predictions",
            served["rss_mib"],
            "MiB",
            Reference("bare `import tensorflow`", bare_tf["rss_mib"]),
            at_most(1.0),
        ),
        Figure(
            f"peak: serving, then a {arch} retrain ({retrain['epochs']} epochs)",
            retrain["peak_rss_mib"],
            "MiB",
            Reference(
                f"serving RSS + peak of the {arch} training alone ({alone['epochs']} epochs)",
                served["rss_mib"] + alone["peak_rss_mib"],
            ),
            at_most(1.0),
        ),
        Figure(f"peak of the {arch} training alone", alone["peak_rss_mib"], "MiB"),
    ]
    notes = [f"TensorFlow loaded by the serving process: {served['tensorflow_loaded']}."]
    print(f"data: {args.data}; each figure from a fresh process")
    print("| measurement | MiB | reference | MiB |\n|---|---|---|---|")
    for figure in figures:
        reference = figure.reference or Reference("", float("nan"))
        print(
            f"| {figure.name} | {figure.value:,.0f} | {reference.name} | {reference.value:,.0f} |"
        )
    run.write(figures, variant_of(args.data, arch), notes)


if __name__ == "__main__":
    main()
