"""Test ECE before and after temperature scaling on GOP, for the shipped default and fasttext.

The shipped default version (the active one in models/) is measured without retraining
it: its split comes back from its recorded seed, the temperature its training kept is
undone (it was fitted on this very validation part, so fitting again on its output would
give 1.0), a temperature is fitted on that split's validation part and the ECE is
measured on its test part. fasttext is trained
on each split seed and calibrated exactly as training does (pipeline.train.calibrate).

The temperature is fitted on validation and kept only where it lowers the validation ECE,
so neither the validation figures nor the test ECE as saved (unchanged when the
temperature is not kept) can judge the method. The verdict is the fitted temperature's
test ECE, kept or not, against the same model's unscaled test ECE: at most 1.00x for the
shipped version and for fasttext's mean over the seeds, or fitting on validation does
not carry over to unseen texts.

    python bench/calibration.py
    python bench/calibration.py --data ../shared/data/Sentiment.csv --seeds 42 1 2
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.record import Figure, Reference, Run, at_most, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.calibration import (  # noqa: E402
    choose_temperature,
    encode,
    expected_calibration_error,
    scale_probabilities,
)
from pipeline.data import load_labelled_data, split_data  # noqa: E402
from pipeline.params import resolve_params  # noqa: E402
from pipeline.predict import load_predictor  # noqa: E402
from pipeline.registry import Registry  # noqa: E402

GOP = config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv"


def with_fitted(record: dict, test, y_test) -> dict:
    """The calibration record plus `fitted_ece`: the test ECE at the fitted temperature,
    whether or not it was kept."""
    scaled = scale_probabilities(test, record["fitted_temperature"] or 1.0)
    return {**record, "fitted_ece": expected_calibration_error(scaled, y_test)}


def table_row(record: dict) -> dict:
    """The figures of one calibration record worth a table row."""
    return {
        "temperature": round(record["fitted_temperature"] or 1.0, 3),
        "applied": record["applied"],
        "val_ece_before": round(record["validation"]["ece_before"], 4),
        "val_ece_after": round(record["validation"]["ece_after"], 4),
        "test_ece_before": round(record["before"]["ece"], 4),
        "test_ece_after": round(record["ece"], 4),
        "test_ece_fitted_t": round(record["fitted_ece"], 4),
    }


def measure_shipped(data, version: str) -> dict:
    """Fit T on a saved version's validation part and measure it on its test part."""
    registry = Registry(config.DEFAULT_MODELS_DIR)
    metadata = registry.metadata(version)
    if metadata["data"].get("sha256") != data.sha256:
        sys.exit(f"{version} was not trained on {data.source} (SHA-256 differs).")
    splits = split_data(data, metadata["split"]["seed"])
    if splits.sizes != metadata["split"]["sizes"]:
        sys.exit(f"The split of seed {metadata['split']['seed']} differs from {version}'s.")
    predictor = load_predictor(config.DEFAULT_MODELS_DIR, version)
    started = time.perf_counter()
    validation = predictor.predict_proba(splits.validation["text"])
    test = predictor.predict_proba(splits.test["text"])
    seconds = time.perf_counter() - started
    # softmax(log(softmax(z / T)) * T) = softmax(z): the unscaled model's probabilities.
    saved = metadata.get("calibration") or {}
    kept = saved.get("temperature", 1.0) if saved.get("applied") else 1.0
    validation, test = (scale_probabilities(p, 1 / kept) for p in (validation, test))
    labels = metadata["labels"]
    y_test = encode(splits.test["label"], labels)
    record = choose_temperature(validation, encode(splits.validation["label"], labels), test,
                                y_test)  # fmt: skip
    record = with_fitted(record, test, y_test)
    return {
        "seed": metadata["split"]["seed"],
        **table_row(record),
        "predict_s": round(seconds, 1),
        "record": record,
    }


def measure_fasttext(data, seed: int) -> dict:
    """Train fasttext on one split seed and calibrate it as training does."""
    from pipeline.train import calibrate, fit_model, predict_parts, serving_predictor

    params = resolve_params({"architecture": "fasttext", "seed": seed})
    splits = split_data(data, seed)
    started = time.perf_counter()
    model, _, _ = fit_model(splits, data.labels, params)
    unscaled = predict_parts(serving_predictor(model, "fasttext", data.labels), splits)
    _, record, _ = calibrate(model, params, unscaled, splits, data.labels)
    record = with_fitted(record, unscaled["test"], encode(splits.test["label"], data.labels))
    seconds = round(time.perf_counter() - started, 1)
    return {"seed": seed, **table_row(record), "seconds": seconds, "record": record}


def print_table(title: str, rows: list[dict]) -> None:
    """A Markdown table of the rows, and their mean when there are several."""
    keys = [k for k in rows[0] if k not in ("predict_s", "seconds", "record")]
    print(f"\n{title}\n| {' | '.join(keys)} |\n|{'---|' * len(keys)}")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if len(rows) > 1:
        print("| " + " | ".join(summarize(k, [row[k] for row in rows]) for k in keys) + " |")


def summarize(key: str, values: list) -> str:
    """A column's cell in the summary row: its mean, or how many were True."""
    if key == "seed":
        return "mean"
    if isinstance(values[0], bool):
        return f"{sum(values)} of {len(values)}"
    return f"{np.mean(values):.4f}"


def ece_figures(rows: list[dict], group: str) -> list[Figure]:
    """Each row's test ECE at the fitted temperature and as saved, and its validation ECE,
    against the unscaled model's; with several rows the means too. The target (the fitted
    temperature's test ECE, at most 1.00x) is on the mean, or on the one row."""
    figures = []
    for row in rows:
        record, name = row["record"], f"seed {row['seed']}"
        test, validation = record["before"]["ece"], record["validation"]["ece_before"]
        kept = "kept" if record["applied"] else "not kept"
        figures += [
            Figure(f"{name}: test ECE at the fitted temperature ({kept})", record["fitted_ece"],
                   "", Reference("unscaled", test), at_most(1.0) if len(rows) == 1 else None,
                   group),
            Figure(f"{name}: test ECE as saved", record["ece"], "", Reference("unscaled", test),
                   group=group),
            Figure(f"{name}: validation ECE at the fitted temperature",
                   record["validation"]["ece_after"], "", Reference("unscaled", validation),
                   group=group),
            Figure(f"{name}: fitted temperature", record["fitted_temperature"] or 1.0, "",
                   group=group),
        ]  # fmt: skip
    if len(rows) > 1:
        fitted = float(np.mean([row["record"]["fitted_ece"] for row in rows]))
        unscaled = float(np.mean([row["record"]["before"]["ece"] for row in rows]))
        saved = float(np.mean([row["record"]["ece"] for row in rows]))
        mean = f"mean of {len(rows)} seeds"
        figures += [
            Figure(f"{mean}: test ECE at the fitted temperature", fitted, "",
                   Reference("unscaled", unscaled), at_most(1.0), group),
            Figure(f"{mean}: test ECE as saved", saved, "", Reference("unscaled", unscaled),
                   group=group),
        ]  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(GOP), help="GOP's Sentiment.csv")
    parser.add_argument("--label-column", default="sentiment")
    parser.add_argument("--version", help="a version in models/ (default: the active one)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not Path(args.data).is_file():
        print(f"skipped: {args.data} is not there (the GOP Sentiment.csv).")
        return
    run = Run(__file__, parser, args)
    data = load_labelled_data(args.data, label_column=args.label_column)
    args.version = Registry(config.DEFAULT_MODELS_DIR).resolve(args.version)
    shipped = measure_shipped(data, args.version)
    print(f"shipped {args.version}: {json.dumps(table_row(shipped['record']))}",
          file=sys.stderr, flush=True)  # fmt: skip
    fasttext = []
    for seed in args.seeds:
        fasttext.append(measure_fasttext(data, seed))
        print(f"fasttext: {json.dumps(table_row(fasttext[-1]['record']))}", file=sys.stderr,
              flush=True)  # fmt: skip
    if args.json:
        plain = [{k: v for k, v in row.items() if k != "record"} for row in [shipped, *fasttext]]
        Path(args.json).write_text(json.dumps({"shipped": plain[0], "fasttext": plain[1:]},
                                              indent=1))  # fmt: skip
    print_table(f"shipped version {args.version} (not retrained), {data.source}", [shipped])
    print_table(f"fasttext (defaults), trained per split seed, {data.source}", fasttext)
    architecture = Registry(config.DEFAULT_MODELS_DIR).metadata(args.version)["architecture"]
    figures = ece_figures([shipped], f"shipped {args.version} ({architecture}), not retrained")
    figures += ece_figures(fasttext, "fasttext (defaults), trained per split seed")
    run.write(figures, variant_of(args.data))


if __name__ == "__main__":
    main()
