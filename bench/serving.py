"""Serving speed: one text's latency and batch throughput, each against Keras in the same run.

    python bench/serving.py [--models-dir models] [--version V] [--data data/sample.csv]

For a `fasttext` version (by default the newest one; bench/serving_transformer.py times a
transformer).
Prints p50/p95 latency of the whole path (clean -> vectorise -> model -> probabilities)
for one text through: this project's predictor (NumPy), the same Keras model through a
`tf.function`, `model.predict`, and the tutorial's habit of loading the model per request;
then texts per second over 10,000 texts against `model.predict(batch_size=1024)`.
Targets: the project's one-text p50 at most 1.00x the same model's through `tf.function`
(the fastest Keras path), and its batch throughput at least 1.00x `model.predict`'s: the
NumPy path exists because it is faster than Keras, so it must stay so.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.record import Figure, Reference, Run, at_least, at_most, variant_of  # noqa: E402
from pipeline import config, load_predictor  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.predict import load_model  # noqa: E402
from pipeline.registry import Registry  # noqa: E402


def timings(calls: list, texts: list[str], repeats: int, rounds: int = 5) -> list[list[float]]:
    """Seconds per call, one text per call, cycling through `texts`.

    The calls take turns in blocks of repeats/rounds calls, so a noisy machine slows them
    alike and the ratios hold even when absolute times drift. (Blocks, not single calls:
    right after a TensorFlow call its thread pool is still spinning, which would slow
    whatever runs next.)
    """
    for call in calls:
        call(texts[0])  # warm up: traces, caches
    seconds = [[] for _ in calls]
    for block in range(rounds):
        for call, spent in zip(calls, seconds, strict=True):
            for i in range(block * repeats // rounds, (block + 1) * repeats // rounds):
                started = time.perf_counter()
                call(texts[i % len(texts)])
                spent.append(time.perf_counter() - started)
    return seconds


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--version")
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    texts = load_labelled_data(args.data).frame["text"].tolist()
    registry = Registry(args.models_dir)
    fasttext = [m["version"] for m in registry.list() if m.get("architecture") == "fasttext"]
    version = registry.resolve(args.version or (fasttext[0] if fasttext else None))
    fast = load_predictor(args.models_dir, version, backend="numpy")
    keras = load_predictor(args.models_dir, version, backend="keras")
    model = load_model(registry, version)

    def load_per_request(text):
        load_model(Registry(args.models_dir), version).predict(
            np.array([text], dtype=object), verbose=0
        )

    # The two fast paths take turns in blocks; the slow ones are timed on fewer calls after.
    interleaved = {
        "this project (NumPy)": lambda t: fast.predict_proba([t]),
        "Keras via tf.function": lambda t: keras.predict_proba([t]),
    }
    slow = {
        "Keras model.predict": (
            lambda t: model.predict(np.array([t], dtype=object), verbose=0),
            args.repeats // 20,
        ),
        "tutorial: load per request": (load_per_request, 10),
    }
    results = dict(
        zip(interleaved, timings(list(interleaved.values()), texts, args.repeats), strict=True)
    )
    for name, (call, repeats) in slow.items():
        results[name] = timings([call], texts, repeats, rounds=1)[0]
    print(f"model {version} ({registry.metadata(version)['architecture']}), {len(texts)} texts")
    print("\nsingle text, warm process, whole path")
    print("| path | p50 ms | p95 ms | p50 vs this project |")
    print("|---|---|---|---|")
    ours = None
    for name, seconds in results.items():
        p50, p95 = percentile(seconds, 50) * 1000, percentile(seconds, 95) * 1000
        ours = ours or p50
        print(f"| {name} | {p50:.3f} | {p95:.3f} | {p50 / ours:.1f}x |")

    batch = (texts * (10_000 // len(texts) + 1))[:10_000]
    print("\nbatch of 10,000 texts (best of 5, taking turns)")
    print("| path | texts/s | vs Keras model.predict |")
    print("|---|---|---|")
    calls = {
        "this project (NumPy)": lambda: fast.predict_proba(batch),
        "Keras model.predict(batch_size=1024)": lambda: model.predict(
            np.array(batch, dtype=object), batch_size=1024, verbose=0
        ),
    }
    best = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        call()  # warm up
    for _ in range(5):  # the two take turns; the best of 5 rounds each
        for name, call in calls.items():
            best[name] = min(best[name], _time(call))
    rates = {name: len(batch) / seconds for name, seconds in best.items()}
    reference = rates["Keras model.predict(batch_size=1024)"]
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {rate / reference:.2f}x |")
    notes = [f"Version {version} ({registry.metadata(version)['architecture']}), "
             f"{len(texts):,} texts."]  # fmt: skip
    run.write(serving_figures(results, rates), variant_of(args.data), notes)


def serving_figures(single: dict[str, list[float]], rates: dict[str, float]) -> list[Figure]:
    """The project's path against each Keras path: one text's p50 / p95, and a batch's rate.

    Args:
        single: seconds per call by path, this project's first.
        rates: texts per second on the batch by path, this project's first.
    """
    ours, *others = single
    figures = []
    for q in (50, 95):
        for i, other in enumerate(others):
            figures.append(
                Figure(
                    f"one text, p{q}",
                    percentile(single[ours], q) * 1000,
                    "ms",
                    Reference(f"{other}, p{q}", percentile(single[other], q) * 1000),
                    at_most(1.0) if (q, i) == (50, 0) else None,
                    f"one text: {ours}",
                )
            )
    ours, other = list(rates)
    reference = Reference(other, rates[other])
    batch = Figure("10,000 texts", rates[ours], "texts/s", reference, at_least(1.0), "batch")
    figures.append(batch)
    return figures


def _time(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
