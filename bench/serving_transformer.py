"""Serving a transformer version: latency, throughput, agreement, explanation time, memory.

    python bench/serving_transformer.py --data data/Sentiment.csv [--version V]

Two serving paths against Keras `model.predict` on the same saved model, in the same run:
- LiteRT (pipeline/recipes/lite.py; versions saved with a model.tflite): the int8 network
  on the LiteRT interpreter, tokenized in Python, without TensorFlow. It is loaded first,
  so its load time and RSS are a process that has not imported TensorFlow;
- Keras (pipeline/recipes/serving.py): length-bucketed batches, XLA, int8 where the version
  is quantized; a new shape runs the plain graph until it is compiled.
For each: one text's p50 and p95 (the paths take turns in blocks), texts per second on a
batch, and over every text of the data whether it gives `model.predict`'s label, with the
largest difference in a probability; then the Predict tab's word explanation (all occluded
variants in one batch) and the process's RSS. Targets, for each serving path:
- one text's p50 at most 1.00x `model.predict`'s, and a batch's texts/s at least 1.00x
  (the serving paths exist because they are faster);
- `model.predict`'s label on at least 0.99x of the texts (int8 and float paths may differ
  near a tie, rarely);
- LiteRT: the process's RSS after loading it at most 1.00x a bare `import tensorflow`'s in
  a fresh process, since it runs without TensorFlow.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.cold_start import bare_tensorflow_import  # noqa: E402
from bench.record import Figure, Reference, Run, at_least, at_most, variant_of  # noqa: E402
from bench.serving import percentile, timings  # noqa: E402
from pipeline import config, load_predictor  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.explain import explain_by_occlusion  # noqa: E402
from pipeline.predict import load_model  # noqa: E402
from pipeline.recipes import RECIPES  # noqa: E402
from pipeline.recipes.transformer import EncoderParams  # noqa: E402
from pipeline.registry import Registry  # noqa: E402
from pipeline.runtimes.lite import LITE_FILE  # noqa: E402


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
    run = Run(__file__, parser, args)
    texts = load_labelled_data(args.data).frame["text"].tolist()
    registry = Registry(args.models_dir)
    encoder = [n for n, recipe in RECIPES.items() if issubclass(recipe.params, EncoderParams)]
    found = [m["version"] for m in registry.list() if m.get("architecture") in encoder]
    version = registry.resolve(args.version or (found[0] if found else None))
    paths, figures = {}, []
    if registry.version_file(version, LITE_FILE):
        started = time.perf_counter()
        paths["LiteRT"] = load_predictor(args.models_dir, version, backend="lite")
        paths["LiteRT"].predict_proba(texts[:1])
        loaded, imported = time.perf_counter() - started, "tensorflow" in sys.modules
        print(f"LiteRT: loaded and first text in {loaded:.1f} s; RSS "
              f"{rss_mib()[0]:.0f} MiB; TensorFlow imported: {imported}")  # fmt: skip
        bare_import = Reference('bare `import tensorflow` in a fresh process',
                                bare_tensorflow_import()[1])  # fmt: skip
        figures += [
            Figure("loaded, first text", loaded, "s", group="LiteRT"),
            Figure("RSS after loading, first text", rss_mib()[0], "MiB", bare_import,
                   at_most(1.0), "LiteRT"),
        ]  # fmt: skip
    started = time.perf_counter()
    paths["Keras serving"] = load_predictor(args.models_dir, version, backend="keras")
    paths["Keras serving"].predict_proba(texts[:1])
    loaded = time.perf_counter() - started
    print(f"Keras serving: loaded and first text in {loaded:.1f} s; "
          f"RSS {rss_mib()[0]:.0f} MiB")  # fmt: skip
    figures += [
        Figure("loaded, first text", loaded, "s", group="Keras serving"),
        Figure("RSS after loading, first text (LiteRT too, if loaded)", rss_mib()[0], "MiB",
               group="Keras serving"),
    ]  # fmt: skip
    # New shapes answer through the plain graph while XLA compiles them in the background
    # (pipeline/recipes/serving.py); time the steady state, with the common shapes compiled.
    started = time.perf_counter()
    paths["Keras serving"].predict_proba(texts[: args.batch])
    paths["Keras serving"].forward.network.wait()
    print(f"compiling the common shapes: {time.perf_counter() - started:.1f} s")
    model = load_model(registry, version)

    def keras_predict(batch):
        return model.predict(np.array(batch, dtype=object), batch_size=128, verbose=0)

    calls = {name: p.predict_proba for name, p in paths.items()} | {"model.predict": keras_predict}
    single = timings([lambda t, c=c: c([t]) for c in calls.values()], texts, args.repeats)
    print("\n| one text | p50 ms | p95 ms | model.predict p50 / this p50 |")
    print("|---|---|---|---|")
    reference = percentile(single[-1], 50)
    for name, seconds in zip(calls, single, strict=True):
        p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
        print(f"| {name} | {p50 * 1e3:.1f} | {p95 * 1e3:.1f} | {reference / p50:.1f}x |")
        if name in paths:
            for q, target in ((50, at_most(1.0)), (95, None)):
                keras = Reference(f"model.predict, p{q}", percentile(single[-1], q) * 1e3)
                figures.append(Figure(f"one text, p{q}", percentile(seconds, q) * 1e3, "ms",
                                      keras, target, name))  # fmt: skip

    batch = texts[: args.batch]
    rates = {}
    for name, call in calls.items():
        call(batch[:256])
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            call(batch)
            best = min(best, time.perf_counter() - started)
        rates[name] = len(batch) / best
    print(f"\n| batch of {len(batch):,} | texts/s | this / model.predict(batch_size=128) |")
    print("|---|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} | {rate / rates['model.predict']:.2f}x |")
        if name in paths:
            keras = Reference("model.predict(batch_size=128)", rates["model.predict"])
            figures.append(Figure(f"a batch of {len(batch):,} texts", rate, "texts/s", keras,
                                  at_least(1.0), name))  # fmt: skip

    expected = keras_predict(texts)
    print(f"\nall {len(texts):,} texts, against model.predict:")
    for name, predictor in paths.items():
        fast = predictor.predict_proba(texts)
        agree = float((fast.argmax(1) == expected.argmax(1)).mean())
        largest = float(np.abs(fast - expected).max())
        print(f"- {name}: same label on {agree:.2%}; largest probability difference "
              f"{largest:.2e}")  # fmt: skip
        figures += [
            Figure("texts given model.predict's label", round(agree * len(texts)), "texts",
                   Reference("all texts", len(texts)), at_least(0.99), name),
            Figure("largest probability difference from model.predict", largest, "", group=name),
        ]  # fmt: skip

    for name, predictor in paths.items():
        explain_seconds = []
        for text in texts[: min(200, len(texts))]:
            started = time.perf_counter()
            explain_by_occlusion(predictor, text)
            explain_seconds.append(time.perf_counter() - started)
        p50, p95 = percentile(explain_seconds, 50) * 1e3, percentile(explain_seconds, 95) * 1e3
        print(f"word explanation on {name} (occlusion, one batch): p50 {p50:.0f} ms, "
              f"p95 {p95:.0f} ms")  # fmt: skip
        one_text = Reference("one text, p50", percentile(single[list(calls).index(name)], 50) * 1e3)
        figures += [
            Figure("word explanation (occlusion, one batch), p50", p50, "ms", one_text, group=name),
            Figure("word explanation (occlusion, one batch), p95", p95, "ms", group=name),
        ]
    current, peak = rss_mib()
    print(f"RSS at the end: {current:.0f} MiB (peak {peak:.0f} MiB)")
    figures += [
        Figure("RSS at the end (every path and model.predict's copy)", current, "MiB"),
        Figure("peak RSS", peak, "MiB"),
    ]
    notes = [f"Version {version} ({registry.metadata(version)['architecture']}), "
             f"{len(texts):,} texts."]  # fmt: skip
    run.write(figures, variant_of(args.data), notes)


if __name__ == "__main__":
    main()
