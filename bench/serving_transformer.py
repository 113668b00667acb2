"""Serving a transformer version: latency, throughput, agreement, explanation time, memory.

    python bench/serving_transformer.py --data data/Sentiment.csv [--version V]

Against Keras `model.predict` on the same saved model, in the same run: one text's p50 and
p95 (the two paths take turns in blocks), texts per second on a batch, and over every text
of the data whether the serving path (length-bucketed batches, XLA, int8 where the version
is quantized; a new shape runs the plain graph until it is compiled) gives the same label,
with the largest difference in a probability. Then the Predict tab's word explanation (all
occluded variants in one batch) and the process's RSS.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from serving import percentile, timings  # noqa: E402

from pipeline import config, load_predictor  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.explain import explain_by_occlusion  # noqa: E402
from pipeline.params import TRANSFORMERS  # noqa: E402
from pipeline.registry import Registry  # noqa: E402


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    with open("/proc/self/status") as status:
        current = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return current / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--version")
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    texts = load_labelled_data(args.data).frame["text"].tolist()
    registry = Registry(args.models_dir)
    found = [m["version"] for m in registry.list() if m.get("architecture") in TRANSFORMERS]
    version = registry.resolve(args.version or (found[0] if found else None))
    started = time.perf_counter()
    predictor = load_predictor(args.models_dir, version)
    predictor.predict_proba(texts[:1])
    print(f"model {version}: loaded and first text in {time.perf_counter() - started:.1f} s")
    print(f"RSS after the first prediction: {rss_mib()[0]:.0f} MiB")
    # New shapes answer through the plain graph while XLA compiles them in the background
    # (pipeline/recipes/serving.py); time the steady state, with the common shapes compiled.
    started = time.perf_counter()
    predictor.predict_proba(texts[: args.batch])
    predictor.forward.network.wait()
    print(f"compiling the common shapes: {time.perf_counter() - started:.1f} s")
    model = registry.load_model(version)

    def keras_predict(batch):
        return model.predict(np.array(batch, dtype=object), batch_size=128, verbose=0)

    single = timings(
        [lambda t: predictor.predict_proba([t]), lambda t: keras_predict([t])],
        texts, args.repeats,
    )  # fmt: skip
    print("\n| one text | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name, seconds in zip(("serving path", "Keras model.predict"), single, strict=True):
        p50, p95 = percentile(seconds, 50) * 1e3, percentile(seconds, 95) * 1e3
        print(f"| {name} | {p50:.1f} | {p95:.1f} |")
    ratio = percentile(single[1], 50) / percentile(single[0], 50)
    print(f"serving path p50 is {ratio:.1f}x faster than model.predict")

    batch = texts[: args.batch]
    rates = {}
    for name, call in (("serving path", predictor.predict_proba), ("model.predict", keras_predict)):
        call(batch[:256])
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            call(batch)
            best = min(best, time.perf_counter() - started)
        rates[name] = len(batch) / best
    print(f"\nbatch of {len(batch):,}: serving path {rates['serving path']:.0f} texts/s, "
          f"model.predict(batch_size=128) {rates['model.predict']:.0f} texts/s "
          f"({rates['serving path'] / rates['model.predict']:.2f}x)")  # fmt: skip

    fast, reference = predictor.predict_proba(texts), keras_predict(texts)
    agree = float((fast.argmax(1) == reference.argmax(1)).mean())
    print(f"\nall {len(texts):,} texts: same label on {agree:.2%}; "
          f"largest probability difference {np.abs(fast - reference).max():.2e}")  # fmt: skip

    explain_seconds = []
    for text in texts[: min(200, len(texts))]:
        started = time.perf_counter()
        explain_by_occlusion(predictor, text)
        explain_seconds.append(time.perf_counter() - started)
    p50, p95 = percentile(explain_seconds, 50) * 1e3, percentile(explain_seconds, 95) * 1e3
    print(f"\nword explanation (occlusion, one batch): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    current, peak = rss_mib()
    print(f"RSS at the end: {current:.0f} MiB (peak {peak:.0f} MiB)")


if __name__ == "__main__":
    main()
