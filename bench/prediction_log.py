"""What the prediction log costs the Predict path: one text's answer with the log on against
the same answer with it off, in the same run.

    python bench/prediction_log.py [--models-dir models] [--data data/sample.csv]

For each shipped version (the minilm+fasttext default and the fasttext one), times what the
Predict tab does for one text (`predictor.predict([text])`), then the same followed by
`pipeline.monitor.log.log_predictions` with the log on (texts kept, a local folder; its
background thread writes while the timing goes on). The two take turns in blocks, so a noisy
machine slows both alike. Target: the p50 and the mean with the log at most 1.05x without.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.monitor import log as prediction_log  # noqa: E402
from pipeline.predict import load_predictor  # noqa: E402
from pipeline.registry import Registry  # noqa: E402

TARGET = 1.05


def timings(calls, texts: list[str], repeats: int, rounds: int = 10) -> list[list[float]]:
    """Seconds per call, one text per call, the calls taking turns in blocks."""
    for call in calls:
        call(texts[0])
    seconds = [[] for _ in calls]
    for block in range(rounds):
        for call, spent in zip(calls, seconds, strict=True):
            for i in range(block * repeats // rounds, (block + 1) * repeats // rounds):
                started = time.perf_counter()
                call(texts[i % len(texts)])
                spent.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--repeats", type=int, default=1000, help="texts timed per path")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    registry = Registry(args.models_dir)
    texts = load_labelled_data(args.data).frame["text"].tolist()
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        os.environ[prediction_log.SETTING_ENV] = "texts"
        for version in registry.versions():
            architecture = registry.metadata(version)["architecture"]
            predictor = load_predictor(registry.root, version)

            def answer(text: str, predictor=predictor) -> None:
                predictor.predict([text])

            def answer_and_log(text: str, predictor=predictor) -> None:
                result = predictor.predict([text])[0]
                row = [[result["probabilities"][label] for label in predictor.labels]]
                prediction_log.log_predictions(
                    [text], row, predictor.labels, predictor.version, "dashboard", folder
                )

            off, on = timings([answer, answer_and_log], texts, args.repeats)
            prediction_log.flush_shared(folder)
            stored = len(prediction_log.PredictionLog(f"{folder}/.predictions").read())
            print(f"{architecture}: {stored:,} records stored", flush=True)
            for name, summary in (("p50", statistics.median), ("mean", statistics.fmean)):
                figures.append(
                    Figure(
                        f"one text, {name}, log on",
                        summary(on) * 1000,
                        "ms",
                        Reference(f"{name}, log off", summary(off) * 1000),
                        at_most(TARGET),
                        group=architecture,
                    )
                )
            figures.append(
                Figure(
                    "one text, p95, log on",
                    np.percentile(on, 95) * 1000,
                    "ms",
                    Reference("p95, log off", np.percentile(off, 95) * 1000),
                    group=architecture,
                )  # fmt: skip
            )
    run.write(
        figures,
        variant_of(args.data),
        [f"{args.repeats:,} texts per path and version; the log keeps texts, in a local folder."],
    )


if __name__ == "__main__":
    main()
