"""Does training on a corrected copy help? Measured on an untouched test part.

For each split seed: split first; find likely label errors in the training part only
(confident learning on out-of-fold probabilities within it); train `fasttext` on

- original:   the training part as it is,
- dropped:    the flagged rows left out,
- relabelled: the flagged rows relabelled to the suggestion,
- disagreements dropped: (with --with-disagreements) every row whose out-of-fold
  prediction differs from its label left out, the hand-written alternative to cleanlab;
- worst N dropped / relabelled: (with --worst N) only the N worst-ranked flagged rows,
  as a person reviewing the top of the Data tab's list might;

and evaluate each on the same, untouched validation and test parts. The reference is the
original training part in the same run; the verdict, for each corrected copy, is its test
score (the mean of accuracy and macro-F1, averaged over the seeds) against the original's:
at least 1.00x, or correcting did not help.

    python bench/label_issues.py                       # ../shared/data/Sentiment.csv
    python bench/label_issues.py --data data/Sentiment.csv --seeds 42 1 2 --with-disagreements
    python bench/label_issues.py --worst 500
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.record import Figure, Reference, Run, at_least, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.analysis.label_issues import (  # noqa: E402
    check_folds,
    issues_from_probabilities,
    label_indices,
    out_of_fold_probabilities,
)
from pipeline.data import Splits, load_labelled_data, split_data  # noqa: E402
from pipeline.evaluate import evaluate_predictions  # noqa: E402
from pipeline.params import resolve_params  # noqa: E402

GOP = config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv"
ORIGINAL, DROPPED, RELABELLED, DISAGREEMENTS = (
    "original",
    "flagged dropped",
    "flagged relabelled",
    "disagreements dropped",
)


def corrected(train, issues):
    """The training part with the issues' rows dropped, and with them relabelled."""
    relabelled = train.copy()
    relabelled.loc[issues["row"].to_numpy(), "label"] = issues["suggested"].to_numpy()
    return train.drop(index=issues["row"]).reset_index(drop=True), relabelled


def training_variants(
    splits: Splits, labels: list[str], seed: int, disagreements: bool, worst: int | None
):
    """The training parts to compare, and how many rows each changes.

    Args:
        splits: the split; only its training part is looked at.
        labels: the label order.
        seed: the seed of the out-of-fold folds.
        disagreements: also the variant without every row the model disagrees with.
        worst: also the variants that correct only this many worst-ranked issues.

    Returns:
        {variant: (training frame, rows changed)}.
    """
    train = splits.train
    check_folds(train, labels, config.LABEL_ISSUE_FOLDS)
    targets = label_indices(train, labels)
    probabilities = out_of_fold_probabilities(train["text"], targets, seed=seed)
    issues = issues_from_probabilities(train, labels, probabilities)
    dropped, relabelled = corrected(train, issues)
    variants = {
        ORIGINAL: (train, 0),
        DROPPED: (dropped, len(issues)),
        RELABELLED: (relabelled, len(issues)),
    }
    if worst:
        dropped, relabelled = corrected(train, issues.head(worst))
        changed = min(worst, len(issues))
        variants[f"worst {worst} dropped"] = (dropped, changed)
        variants[f"worst {worst} relabelled"] = (relabelled, changed)
    if disagreements:
        disagree = probabilities.argmax(axis=1) != targets
        variants[DISAGREEMENTS] = (train[~disagree].reset_index(drop=True), int(disagree.sum()))
    return variants


def train_and_evaluate(train, splits: Splits, labels: list[str], seed: int) -> dict:
    """Train the fast recipe on `train`; score it on the split's validation and test parts."""
    from pipeline.train import fit_model, serving_predictor

    params = resolve_params({"architecture": "fasttext", "seed": seed})
    variant = Splits(train, splits.validation, splits.test, splits.seed)
    started = time.perf_counter()
    model, _, _ = fit_model(variant, labels, params)
    predictor = serving_predictor(model, params.architecture, labels)
    row = {"seconds": time.perf_counter() - started, "train_rows": len(train)}
    for part in ("validation", "test"):
        frame = getattr(splits, part)
        metrics = evaluate_predictions(
            frame["label"].tolist(), predictor.predict_proba(frame["text"]), labels
        )
        row[part] = (metrics["accuracy"], metrics["macro_f1"])
    return row


def print_table(results: dict, seeds: list[int], source: str) -> None:
    """Means over the seeds, and each variant's change against the original."""
    print(f"\n{len(seeds)} seeds ({' '.join(map(str, seeds))}), {source}, fasttext, means:")
    print(
        "| training part | rows changed | train rows | val accuracy | val macro-F1 "
        "| test accuracy | test macro-F1 | test acc. vs original | test F1 vs original |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    base = np.mean([r["test"] for r in results[ORIGINAL]], axis=0)
    for name, rows in results.items():
        val = np.mean([r["validation"] for r in rows], axis=0)
        test = np.mean([r["test"] for r in rows], axis=0)
        changed = np.mean([r["changed"] for r in rows])
        train_rows = np.mean([r["train_rows"] for r in rows])
        print(
            f"| {name} | {changed:,.0f} | {train_rows:,.0f} | {val[0]:.3f} | {val[1]:.3f} "
            f"| {test[0]:.3f} | {test[1]:.3f} | {test[0] - base[0]:+.3f} "
            f"| {test[1] - base[1]:+.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(GOP))
    parser.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument(
        "--with-disagreements", action="store_true", help="also drop every disagreement"
    )
    parser.add_argument("--worst", type=int, help="also correct only the N worst issues")
    parser.add_argument("--json", help="also write every seed's figures to this file")
    args = parser.parse_args()
    if not Path(args.data).is_file():
        print(f"skipped: {args.data} is absent (see data/README.md)", file=sys.stderr)
        return
    run = Run(__file__, parser, args)
    data = load_labelled_data(args.data, label_column=args.label_column)
    results = {}
    for seed in args.seeds:
        splits = split_data(data, seed)
        started = time.perf_counter()
        variants = training_variants(splits, data.labels, seed, args.with_disagreements, args.worst)
        print(
            f"seed {seed}: label issues in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
        for name, (train, changed) in variants.items():
            row = {"changed": changed, **train_and_evaluate(train, splits, data.labels, seed)}
            results.setdefault(name, []).append(row)
            print(f"seed {seed} {name:22} {json.dumps(row)}", file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print_table(results, args.seeds, data.source)
    run.write(result_figures(results, args.seeds), variant_of(args.data))


def result_figures(results: dict, seeds: list[int]) -> list[Figure]:
    """Each training part's test (and validation) figures against the original's: the means
    over the seeds, with the target on the test score, then each seed's.

    Args:
        results: {variant: [one row per seed]}, each row with "validation" and "test"
            (accuracy, macro-F1) and "changed" (rows dropped or relabelled).
        seeds: the split seeds, in the rows' order.
    """

    def scores(rows: list[dict]) -> dict:
        val, test = (np.mean([r[part] for r in rows], axis=0) for part in ("validation", "test"))
        return {
            "test score (mean of accuracy and macro-F1)": (test[0] + test[1]) / 2,
            "test accuracy": test[0],
            "test macro-F1": test[1],
            "validation score": (val[0] + val[1]) / 2,
        }

    figures = []
    groups = [(f"means of {len(seeds)} seeds", slice(None), True)]
    groups += [(f"seed {seed}", slice(i, i + 1), False) for i, seed in enumerate(seeds)]
    for group, chosen, judged in groups:
        original = scores(results[ORIGINAL][chosen])
        for name, rows in results.items():
            if name == ORIGINAL:
                continue
            changed = np.mean([r["changed"] for r in rows[chosen]])
            figures.append(Figure(f"{name}: rows changed", changed, "rows", group=group))
            for figure, value in scores(rows[chosen]).items():
                target = at_least(1.0) if judged and figure.startswith("test score") else None
                reference = Reference(f"{ORIGINAL} training part", original[figure])
                figures.append(Figure(f"{name}: {figure}", value, "", reference, target, group))
    return figures


if __name__ == "__main__":
    main()
