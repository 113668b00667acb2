"""Active learning: does picking the texts to label (pipeline.active) beat a random draw?

The labelling loop, simulated on labelled data whose labels are hidden until a text is
picked. For each data set and seed: one leakage-free split (pipeline.data.split_data,
grouped by normalised text, so copies of a tweet never straddle two parts); its training
part is the pool, shown to the strategies without its labels. Every strategy starts from
the same 100 texts drawn at random, trains `fasttext` with its defaults on the labelled
texts (early stopping on the validation part, as training does), and picks 100 more
with `pick_texts` and the fresh model, until 1,000 texts are labelled. Every round's model
is scored on the same untouched test part (accuracy and macro-F1, row by row).

- The verdict, per data set: the best strategy's test macro-F1, averaged over the rounds
  and the seeds, at least 1.00x `random`'s (its curve lies above random's on average).
  The best strategy is chosen on validation (the highest mean validation macro-F1 over the
  rounds, seeds and data sets), one strategy for every data set, as the Label view
  recommends one; every other strategy stands beside `random` without a target.
- And how many labels the best strategy needs to reach `random`'s test macro-F1 at 1,000
  labels (the mean curves over the seeds; the first round at or above it): at most 1.00x
  1,000, or "inf" when no round reaches it.
- Each seed's figures give the spread; the curves, round by round, close each data set.

Why `fasttext` and not `minilm-frozen`: a `minilm-frozen` model runs the encoder over the
whole pool at every round to score it (about 10 ms a text on 2 cores: some 2 minutes a
round for GOP's 9,900 texts, hours for the whole run), while a `fasttext` fit takes about
15 s. On validation, with random labels, `fasttext`'s macro-F1 rises from 0.25 at 100
labels (the majority class only) to 0.42-0.51 at 1,000 on GOP, and from 0.18-0.28 to
0.33-0.39 on the Apple tweets (3 seeds): the gain over the rounds is several times the
spread across seeds, so its curves can tell strategies apart.

    python bench/active_learning.py
    python bench/active_learning.py --data ../shared/data/apple_tweets.csv --seeds 42
    python bench/active_learning.py --quick   # data/sample.csv, 2 rounds: a smoke test
"""

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.record import Figure, Reference, Run, at_least, at_most, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.active import pick_texts  # noqa: E402
from pipeline.active.strategies import RANDOM, STRATEGIES  # noqa: E402
from pipeline.data import Splits, load_labelled_data, split_data  # noqa: E402
from pipeline.evaluate import evaluate_predictions  # noqa: E402
from pipeline.params import resolve_params  # noqa: E402

SHARED_DATA = config.PROJECT_ROOT.parent / "shared" / "data"
DATA_SETS = [str(SHARED_DATA / "Sentiment.csv"), str(SHARED_DATA / "apple_tweets.csv")]
SAMPLE = str(config.DATA_DIR / "sample.csv")
PARTS = ("validation", "test")
ACCURACY, MACRO_F1 = 0, 1  # positions in a round's [accuracy, macro-F1]
# --quick: a smoke test of the whole loop in seconds, on the bundled sample.
QUICK = {"data": [SAMPLE], "seeds": [42], "start": 20, "step": 20, "labels": 40, "epochs": 3}


def fit_round(splits: Splits, labelled, labels: list[str], params):
    """Train on the labelled rows of the pool; the predictor of the fresh model."""
    from pipeline.train import fit_model, serving_predictor

    part = Splits(
        splits.train.loc[labelled].reset_index(drop=True),
        splits.validation,
        splits.test,
        splits.seed,
    )
    model, _, _ = fit_model(part, labels, params)
    return serving_predictor(model, params.architecture, labels)


def score_round(predictor, splits: Splits, labels: list[str]) -> dict:
    """[accuracy, macro-F1] on validation and test."""
    scores = {}
    for name in PARTS:
        frame = getattr(splits, name)
        probabilities = predictor.predict_proba(frame["text"])
        found = evaluate_predictions(frame["label"].tolist(), probabilities, labels)
        scores[name] = [found["accuracy"], found["macro_f1"]]
    return scores


def release_models() -> None:
    """Free the finished rounds' Keras graphs: a run trains a couple of hundred models."""
    from pipeline.backend import keras

    keras.backend.clear_session()
    gc.collect()


def simulate(data, seed: int, strategies: list[str], sizes: list[int], params) -> dict:
    """The labelling loop of each strategy on one split, from the same random start.

    Args:
        data: the labelled data (pipeline.data.LabelledData).
        seed: the split's seed, the model's, and the root of the picks' seeds.
        strategies: the strategies to run (pipeline.active.strategies.STRATEGIES).
        sizes: the labelled-set sizes to train at, first the random start.
        params: the recipe's training parameters.

    Returns:
        {strategy: [one row per size: "labels", "validation" and "test" as
        [accuracy, macro-F1], "seconds" of the round]}.
    """
    splits = split_data(data, seed)
    pool = splits.train[["text"]]  # the labels stay hidden from the strategies
    start, _ = pick_texts(None, pool, "text", sizes[0], RANDOM, seed=seed)
    started = time.perf_counter()
    first = fit_round(splits, start.index, data.labels, params)
    first_row = {"labels": len(start), **score_round(first, splits, data.labels)}
    first_row["seconds"] = round(time.perf_counter() - started, 1)
    release_models()
    curves = {}
    for strategy in strategies:
        labelled, predictor, rows = start.index, first, [first_row]
        log(data.source, seed, strategy, first_row)
        for round_number, size in enumerate(sizes[1:], start=1):
            started = time.perf_counter()
            exclude = splits.train.loc[labelled, "text"]
            picked, _ = pick_texts(
                predictor,
                pool,
                "text",
                size - len(labelled),
                strategy,
                exclude,
                seed=seed * 1000 + round_number,
            )
            labelled = labelled.append(picked.index)
            predictor = fit_round(splits, labelled, data.labels, params)
            row = {"labels": len(labelled), **score_round(predictor, splits, data.labels)}
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            log(data.source, seed, strategy, row)
            release_models()
        curves[strategy] = rows
    return curves


def log(source: str, seed: int, strategy: str, row: dict) -> None:
    print(f"{source} seed {seed} {strategy:14} {json.dumps(row)}", file=sys.stderr, flush=True)


# --- figures, from {data set: {strategy: [one curve per seed: rows as `simulate` gives]}}


def mean_curve(curves: list[list[dict]], part: str, metric: int) -> np.ndarray:
    """The seeds' mean score at each size."""
    return np.mean([[row[part][metric] for row in curve] for curve in curves], axis=0)


def mean_over_rounds(curves: list[list[dict]], part: str, metric: int = MACRO_F1) -> float:
    """The mean over the rounds (and the seeds) of one score: the area under the curve,
    per round."""
    return float(mean_curve(curves, part, metric).mean())


def best_strategy(results: dict) -> str | None:
    """The strategy other than random with the highest validation macro-F1, averaged over
    the rounds, the seeds and the data sets; None when only random ran."""
    others = [s for s in next(iter(results.values())) if s != RANDOM]
    return max(
        others,
        key=lambda s: np.mean(
            [mean_over_rounds(by_strategy[s], "validation") for by_strategy in results.values()]
        ),
        default=None,
    )


def labels_needed(sizes: list[int], curve: np.ndarray, goal: float) -> float:
    """The fewest labels at which a curve reaches `goal`; infinity when it never does."""
    reached = [size for size, value in zip(sizes, curve, strict=True) if value >= goal]
    return float(reached[0]) if reached else math.inf


def summary_figures(by_strategy: dict, best: str | None, group: str, judged: bool) -> list:
    """Each strategy's mean test macro-F1 and accuracy over the rounds, and its validation
    macro-F1, against random's; the labels the best needs to reach random's at the last
    round. Targets only when `judged` (the means over the seeds)."""
    random_curves = by_strategy[RANDOM]
    sizes = [row["labels"] for row in random_curves[0]]
    figures = []
    for strategy, curves in by_strategy.items():
        for part, metric, name in [
            ("test", MACRO_F1, "test macro-F1"),
            ("test", ACCURACY, "test accuracy"),
            ("validation", MACRO_F1, "validation macro-F1"),
        ]:
            value = mean_over_rounds(curves, part, metric)
            against = None
            if strategy != RANDOM:
                against = Reference(
                    f"{RANDOM}, mean over the rounds", mean_over_rounds(random_curves, part, metric)
                )
            target = (
                at_least(1.0) if judged and strategy == best and name == "test macro-F1" else None
            )
            chosen = " (best on validation)" if strategy == best else ""
            figures.append(
                Figure(
                    f"{strategy}{chosen}: {name}, mean over the rounds",
                    value,
                    "",
                    against,
                    target,
                    group,
                )
            )
    goal = mean_curve(random_curves, "test", MACRO_F1)[-1]
    figures.append(
        Figure(f"{RANDOM}: test macro-F1 at {sizes[-1]:,} labels", goal, "", group=group)
    )
    if best is not None:
        needed = labels_needed(sizes, mean_curve(by_strategy[best], "test", MACRO_F1), goal)
        figures.append(
            Figure(
                f"{best}: labels to reach {RANDOM}'s test macro-F1 at {sizes[-1]:,}",
                needed,
                "labels",
                Reference(RANDOM, sizes[-1]),
                at_most(1.0) if judged else None,
                group,
            )
        )
    return figures


def seeds_above_random(by_strategy: dict, group: str) -> list[Figure]:
    """For each strategy, in how many seeds its mean test macro-F1 beat random's."""
    figures = []
    seeds = len(by_strategy[RANDOM])
    for strategy, curves in by_strategy.items():
        if strategy == RANDOM:
            continue
        above = sum(
            mean_over_rounds([mine], "test") > mean_over_rounds([theirs], "test")
            for mine, theirs in zip(curves, by_strategy[RANDOM], strict=True)
        )
        name = f"{strategy}: seeds where its test macro-F1 (mean over the rounds) beats {RANDOM}'s"
        figures.append(Figure(name, above, f"of {seeds}", group=group))
    return figures


def curve_figures(by_strategy: dict, group: str, metric: int) -> list[Figure]:
    """Every strategy's mean test score at each size, beside random's at that size."""
    random_curve = mean_curve(by_strategy[RANDOM], "test", metric)
    sizes = [row["labels"] for row in by_strategy[RANDOM][0]]
    figures = []
    for i, size in enumerate(sizes):
        for strategy, curves in by_strategy.items():
            value = mean_curve(curves, "test", metric)[i]
            against = None if strategy == RANDOM else Reference(RANDOM, random_curve[i])
            figures.append(Figure(f"{size:,} labels: {strategy}", value, "", against, group=group))
    return figures


def seeds_phrase(seeds: list[int]) -> str:
    """E.g. "3 seeds", "1 seed"."""
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}"


def result_figures(results: dict, seeds: list[int]) -> list[Figure]:
    """The result file's figures: per data set, the means over the seeds (with the
    targets), the seeds that beat random, each seed's means, and the mean curves.

    Args:
        results: {data set: {strategy: [one curve per seed, in `seeds`' order]}}; every
            strategy's curves have the same sizes; random is among the strategies.
        seeds: the split seeds.
    """
    best = best_strategy(results)
    figures = []
    for source, by_strategy in results.items():
        means = f"{source}: means of {seeds_phrase(seeds)}"
        figures += summary_figures(by_strategy, best, means, judged=True)
        figures += seeds_above_random(by_strategy, means)
        for i, seed in enumerate(seeds):
            one = {strategy: curves[i : i + 1] for strategy, curves in by_strategy.items()}
            figures += summary_figures(one, best, f"{source}: seed {seed}", judged=False)
        for metric, name in ((MACRO_F1, "macro-F1"), (ACCURACY, "accuracy")):
            group = f"{source}: test {name} by labels, mean of {seeds_phrase(seeds)}"
            figures += curve_figures(by_strategy, group, metric)
    return figures


def print_table(results: dict) -> None:
    """The mean test macro-F1 curves as Markdown tables, one per data set."""
    for source, by_strategy in results.items():
        sizes = [row["labels"] for row in by_strategy[RANDOM][0]]
        print(f"\n{source}: test macro-F1 by labels (mean of the seeds)")
        print("| strategy | " + " | ".join(f"{s:,}" for s in sizes) + " | mean |")
        print("|---" * (len(sizes) + 2) + "|")
        for strategy, curves in by_strategy.items():
            curve = mean_curve(curves, "test", MACRO_F1)
            cells = " | ".join(f"{v:.3f}" for v in curve)
            print(f"| {strategy} | {cells} | {curve.mean():.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        nargs="+",
        default=DATA_SETS,
        metavar="CSV",
        help="labelled data sets, text in column `text`",
    )
    parser.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--start", type=int, default=100, help="random labels to start from")
    parser.add_argument("--step", type=int, default=100, help="labels picked each round")
    parser.add_argument("--labels", type=int, default=1000, help="labels at the last round")
    parser.add_argument("--architecture", default="fasttext", help="the recipe trained")
    parser.add_argument("--epochs", type=int, help="the recipe's most epochs (its default)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: data/sample.csv, one seed, 20 + 20 labels, 3 "
        "epochs; writes active_learning-quick.json",
    )
    parser.add_argument("--json", help="also write every round's scores to this file")
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a sentence for the result file, e.g. why options were reduced",
    )
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    if args.quick:
        vars(args).update(QUICK)
    if RANDOM not in args.strategies:
        parser.error(f"--strategies needs {RANDOM!r}: every strategy is measured against it.")
    if args.start < 1 or args.step < 1 or (args.labels - args.start) % args.step:
        parser.error("--labels must be --start plus a whole number of --step.")
    sizes = list(range(args.start, args.labels + 1, args.step))
    strategies = [RANDOM, *(s for s in dict.fromkeys(args.strategies) if s != RANDOM)]
    params = resolve_params({"architecture": args.architecture, "epochs": args.epochs})
    results = {}
    for path in args.data:
        data = load_labelled_data(path, label_column=args.label_column)
        for seed in args.seeds:
            params = resolve_params({**params.to_dict(), "seed": seed})
            curves = simulate(data, seed, strategies, sizes, params)
            for strategy, rows in curves.items():
                results.setdefault(data.source, {}).setdefault(strategy, []).append(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print_table(results)
    variant = "quick" if args.quick else "" if args.data == DATA_SETS else variant_of(*args.data)
    run.write(result_figures(results, args.seeds), variant, notes_of(args, sizes))


def notes_of(args, sizes: list[int]) -> list[str]:
    """What the page should say about a run besides its command."""
    notes = [
        f"Labels at each round: {', '.join(f'{s:,}' for s in sizes)}; the recipe "
        f"`{args.architecture}`, epochs {args.epochs or 'its default'}; split seeds "
        f"{' '.join(map(str, args.seeds))}.",
        "Early stopping and the choice of the best strategy use the validation part; the "
        "test part only scores.",
    ]
    if args.quick:
        notes.append("--quick: a smoke test on data/sample.csv; its figures mean nothing.")
    return notes + args.note


if __name__ == "__main__":
    main()
