"""Memory: the serving process's RSS, and the peak of a default retrain, beside references.

    python bench/memory.py --data data/Sentiment.csv

Each figure comes from its own fresh process, so peaks do not mix:
- serve: load the active model the way the app does and score 10,000 texts one by one
  and in batches; RSS after (reference: a bare `import tensorflow`, which serving skips);
- retrain: the same serving process, then a default retrain on the data into a throwaway
  registry, as the Retrain tab does; peak RSS (reference: the tutorial's lstm recipe,
  2 epochs, in the same kind of process).
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

    texts = load_labelled_data(data).frame["text"].tolist()[:10_000]
    predictor = load_predictor()
    for text in texts[:2_000]:
        predictor.predict([text])
    predictor.predict_proba(texts)


def measure(kind: str, data: str, arch: str) -> dict:
    """Run one measurement in this process; returns the figures."""
    if kind == "import_tensorflow":
        from pipeline.backend import tf  # noqa: F401

        return {"rss_mib": current_rss_mib()}
    serve(data)
    if kind == "serve":
        return {"rss_mib": current_rss_mib(), "tensorflow_loaded": "tensorflow" in sys.modules}
    from pipeline.data import load_labelled_data
    from pipeline.params import default_params, resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    params = resolve_params(
        {**default_params(arch).to_dict(), "epochs": 2, "patience": 0} if arch == "lstm" else {}
    )
    with tempfile.TemporaryDirectory() as scratch:
        result = train_and_save(load_labelled_data(data), params, Registry(scratch))
    return {"peak_rss_mib": peak_rss_mib(), "epochs": result["epochs_run"]}


def in_fresh_process(kind: str, data: str, arch: str = "fasttext") -> dict:
    command = [sys.executable, __file__, "--child", kind, "--data", data, "--arch", arch]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/Sentiment.csv")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--arch", default="fasttext", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.data, args.arch)))
        return
    served = in_fresh_process("serve", args.data)
    bare_tf = in_fresh_process("import_tensorflow", args.data)
    retrain = in_fresh_process("retrain", args.data)
    tutorial = in_fresh_process("retrain", args.data, "lstm")
    print(f"data: {args.data}; each row from a fresh process; 2-core machine")
    print("| measurement | MiB | reference | MiB | target |")
    print("|---|---|---|---|---|")
    print(
        f"| serving process after 12,000 predictions (TensorFlow loaded: "
        f"{served['tensorflow_loaded']}) | {served['rss_mib']:.0f} | bare `import tensorflow` "
        f"| {bare_tf['rss_mib']:.0f} | <= 800 |"
    )
    print(
        f"| peak: serving, then a default retrain ({retrain['epochs']} epochs) | "
        f"{retrain['peak_rss_mib']:.0f} | same, tutorial lstm recipe (2 epochs) | "
        f"{tutorial['peak_rss_mib']:.0f} | <= 1,536 |"
    )


if __name__ == "__main__":
    main()
