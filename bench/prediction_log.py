"""What the prediction log costs the Predict path: one text's answer with the log on against
the same answer with it off, in the same run.

    python bench/prediction_log.py [--models-dir models] [--data data/sample.csv]

For each version of the registry (the shipped minilm+fasttext default and fasttext), two
paths, each timed with the log off and on (texts kept, in a copy of the registry; its
background thread writes while the timing goes on), taking turns in blocks so a noisy
machine slows both alike:

- the model call the Predict tab makes for one text (`predictor.predict([text])`), then
  `pipeline.monitor.log.log_predictions`;
- a REST API request, `POST /predict?version=V` with one text (FastAPI's TestClient: the
  whole app, in this process), which appends to the log itself.

Target: the p50 and the mean with the log at most 1.05x without.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import api  # noqa: E402
from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from bench.serving import timings  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.data import load_labelled_data  # noqa: E402
from pipeline.monitor import log as prediction_log  # noqa: E402
from pipeline.predict import load_predictor  # noqa: E402
from pipeline.registry import Registry  # noqa: E402

TARGET = 1.05


def path_figures(path: str, off: list[float], on: list[float], group: str) -> list[Figure]:
    """p50 and mean with the log on against off (with the target), and p95 (shown)."""
    figures = [
        Figure(f"{path}, {name}, log on", summary(on) * 1000, "ms",
               Reference(f"{name}, log off", summary(off) * 1000), at_most(TARGET), group=group)
        for name, summary in (("p50", statistics.median), ("mean", statistics.fmean))
    ]  # fmt: skip
    figures.append(
        Figure(
            f"{path}, p95, log on",
            np.percentile(on, 95) * 1000,
            "ms",
            Reference("p95, log off", np.percentile(off, 95) * 1000),
            group=group,
        )  # fmt: skip
    )
    return figures


def model_call_paths(predictor):
    """The Predict tab's model call for one text, without and with the log."""

    def answer(text: str) -> None:
        predictor.predict([text])

    def answer_and_log(text: str) -> None:
        result = predictor.predict([text])[0]
        row = [[result["probabilities"][label] for label in predictor.labels]]
        prediction_log.log_predictions(
            [text], row, predictor.labels, predictor.version, "dashboard"
        )

    return answer, answer_and_log


def request_paths(client: TestClient, version: str):
    """A REST API request for one text, without and with the log (the API appends)."""

    def request(text: str) -> None:
        answer = client.post(f"/predict?version={version}", json={"text": text})
        assert answer.status_code == 200, answer.text

    def request_without_the_log(text: str) -> None:
        del os.environ[prediction_log.SETTING_ENV]
        try:
            request(text)
        finally:
            os.environ[prediction_log.SETTING_ENV] = "texts"

    return request_without_the_log, request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(config.DEFAULT_MODELS_DIR))
    parser.add_argument("--data", default=str(config.SAMPLE_DATA_PATH))
    parser.add_argument("--repeats", type=int, default=1000, help="texts timed per path")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    texts = load_labelled_data(args.data).frame["text"].tolist()
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        # A copy of the registry: the log goes beside the registry that answered.
        models = shutil.copytree(args.models_dir, Path(folder) / "models",
                                 ignore=shutil.ignore_patterns(prediction_log.LOG_DIR))  # fmt: skip
        registry = Registry(models)
        os.environ[config.MODELS_DIR_ENV] = str(models)
        os.environ[prediction_log.SETTING_ENV] = "texts"
        os.environ["SENTIMENT_API_REQUESTS_PER_MINUTE"] = "0"  # no per-client limit here
        with TestClient(api.app) as client:
            for version in registry.versions():
                architecture = registry.metadata(version)["architecture"]
                predictor = load_predictor(registry.root, version)
                off, on = timings(model_call_paths(predictor), texts, args.repeats)
                figures += path_figures("model call", off, on, architecture)
                off, on = timings(request_paths(client, version), texts, args.repeats)
                figures += path_figures("API request", off, on, architecture)
        prediction_log.flush_shared(str(models))
        stored = prediction_log.PredictionLog(prediction_log.log_location(str(models))).read()
        print(f"{len(stored):,} records stored", flush=True)
    notes = [
        f"{args.repeats:,} texts per path and version, after one warm-up; the log keeps the "
        f"texts, in a local folder ({len(stored):,} records stored in all)."
    ]
    run.write(figures, variant_of(args.data), notes)


if __name__ == "__main__":
    main()
