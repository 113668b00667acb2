"""Learning curves: test accuracy and macro-F1 of fasttext, minilm-frozen and minilm when
trained on 100 / 300 / 1,000 / 3,000 / all training rows of one leakage-free split.

The validation and test parts stay whole, so every size is scored on the same rows. The
Retrain tab's advice on which recipe to pick for how many rows comes from these curves.
Each recipe's figures stand beside fasttext's at the same size, in the same run (the
cheapest recipe, and the one the advice weighs the others against); there is no target.

    python bench/learning_curve.py --data data/Sentiment.csv
    python bench/learning_curve.py --data apple_tweets.csv --sizes 100 300 1000
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.record import Figure, Reference, Run, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.data import Splits, load_labelled_data, split_data  # noqa: E402
from pipeline.evaluate import accuracy_and_macro_f1  # noqa: E402
from pipeline.params import resolve_params  # noqa: E402

RECIPES = ("fasttext", "minilm-frozen", "minilm")
REFERENCE = "fasttext"


def subsample(splits: Splits, rows: int | None, seed: int) -> Splits:
    """The first `rows` of a shuffled training part (all when None or larger)."""
    train = splits.train.sample(frac=1.0, random_state=seed)
    if rows is not None:
        train = train.iloc[:rows]
    return Splits(train.reset_index(drop=True), splits.validation, splits.test, splits.seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.KAGGLE_DATA_PATH))
    parser.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sizes", nargs="+", default=["100", "300", "1000", "3000", "all"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    from pipeline.train import fit_model, quantize, serving_predictor

    data = load_labelled_data(args.data, label_column=args.label_column)
    splits = split_data(data, args.seed)
    rows = []
    for size in args.sizes:
        part = subsample(splits, None if size == "all" else int(size), args.seed)
        if size != "all" and int(size) > len(splits.train):
            continue
        for architecture in args.recipes:
            params = resolve_params({"architecture": architecture, "seed": args.seed})
            started = time.perf_counter()
            model, _, _ = fit_model(part, data.labels, params)
            seconds = time.perf_counter() - started
            if getattr(params, "quantize", "none") == "int8":
                quantize(model, architecture)
            predict = serving_predictor(model, architecture, data.labels).predict_proba
            row = {"rows": len(part.train), "recipe": architecture, "seconds": round(seconds, 1)}
            for name in ("validation", "test"):
                frame = getattr(part, name)
                scores = accuracy_and_macro_f1(
                    frame["text"], frame["label"].tolist(), predict(frame["text"]), data.labels
                )
                for key, (accuracy, macro_f1) in zip(
                    (name, f"{name}, each text once"), scores, strict=True
                ):
                    row[key] = [round(accuracy, 3), round(macro_f1, 3)]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    for part in ("test", "test, each text once"):
        print(f"\n{data.source}, split seed {args.seed}; {part}: accuracy / macro-F1 (train s):")
        print("| training rows | " + " | ".join(args.recipes) + " |")
        print("|---" * (len(args.recipes) + 1) + "|")
        for count in dict.fromkeys(r["rows"] for r in rows):
            cells = []
            for architecture in args.recipes:
                match = [r for r in rows if r["rows"] == count and r["recipe"] == architecture]
                cells.append(
                    "{:.3f} / {:.3f} ({:.0f} s)".format(*match[0][part], match[0]["seconds"])
                    if match
                    else ""
                )
            print(f"| {count:,} | " + " | ".join(cells) + " |")
    notes = [f"{data.source}, split seed {args.seed}."]
    run.write(curve_figures(rows), variant_of(args.data), notes)


def curve_figures(rows: list[dict]) -> list[Figure]:
    """Each recipe's scores and training time at each size, beside fasttext's at that size.

    Args:
        rows: one per (size, recipe): "rows", "recipe", "seconds", and [accuracy, macro-F1]
            under "test" and "test, each text once".
    """
    figures = []
    for row in rows:
        group = f"{row['rows']:,} training rows"
        same_size = [r for r in rows if r["rows"] == row["rows"] and r["recipe"] == REFERENCE]
        peer = same_size[0] if same_size and row["recipe"] != REFERENCE else None
        named = [(f"{part} {metric}", part, i) for part in ("test", "test, each text once")
                 for i, metric in enumerate(("accuracy", "macro-F1"))]  # fmt: skip
        for name, part, i in named:
            reference = Reference(f"{REFERENCE}, same rows", peer[part][i]) if peer else None
            figures.append(Figure(f"{row['recipe']}: {name}", row[part][i], "", reference,
                                  group=group))  # fmt: skip
        reference = Reference(f"{REFERENCE}, same rows", peer["seconds"]) if peer else None
        figures.append(Figure(f"{row['recipe']}: training", row["seconds"], "s", reference,
                              group=group))  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
