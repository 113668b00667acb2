"""Drift: does pipeline.monitor.drift flag a switch of topic fast, and stay quiet otherwise?

For each seed: one leakage-free split of GOP (pipeline.data.split_data, grouped by
normalised text, a third held out for testing); `fasttext` is trained on its training
part with its defaults (early stopping on validation). Its test part is split again, by
groups: one half is the reference (scored by the model, with true labels, as a version's
saved test predictions are), the other the held-out stream pool; the pool is halved once
more, into tuning texts and reported texts. No window holds a training text.

- Switch: the reported GOP texts are streamed, then the Apple tweets; a window of 500
  slides by 50. Figure: the switched texts in the first flagged window after the switch,
  the worst of the seeds, at most 1.00x 500; and the windows flagged before the switch.
- False alarms: 20 windows of 500 drawn at random from the reported GOP texts, each
  judged against the reference: the share flagged, all seeds together, at most 1.00x 5 %.
  The same at the smallest window judged (MIN_WINDOW_TEXTS), without a target.
- Estimated accuracy (CBPE) on those GOP windows against their true accuracy: the mean
  absolute error, at most 1.00x 0.03; its largest, beside the sampling noise of one
  window's accuracy, sqrt(p(1-p)/n).
- Thresholds: the constants of pipeline/monitor/drift.py were chosen on the tuning windows
  (20 of 500 and 20 of MIN_WINDOW_TEXTS per seed, from the tuning texts, never reported):
  each is the smallest multiple of 0.05 at least 0.01 above the largest value its statistic
  took on them. The page lists those largest values, and the threshold that rule gives,
  beside each constant.

    nice -n 10 python bench/drift.py
    python bench/drift.py --quick   # one seed, 5 windows of each kind: a smoke test
"""

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.record import Figure, Reference, Run, at_most  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.analysis.predictions import prob_column  # noqa: E402
from pipeline.data import hold_out, load_labelled_data, split_data  # noqa: E402
from pipeline.monitor import drift  # noqa: E402
from pipeline.params import resolve_params  # noqa: E402
from pipeline.text import normalize_for_grouping  # noqa: E402

SHARED_DATA = config.PROJECT_ROOT.parent / "shared" / "data"
GOP = str(SHARED_DATA / "Sentiment.csv")
APPLE = str(SHARED_DATA / "apple_tweets.csv")
TEST_SHARE = 1 / 3  # a third held out: half the reference, half the stream pool
DETECTION_TARGET = 500  # switched texts
FALSE_ALARM_TARGET = 0.05
ACCURACY_TARGET = 0.03
QUICK = {"seeds": [42], "windows": 5}
# The statistic of each finding compared with its threshold, as (finding, key, threshold).
STATISTICS = [
    ("label_mix", "jensen_shannon", drift.LABEL_MIX_THRESHOLD),
    ("confidence", "ks_statistic", drift.CONFIDENCE_THRESHOLD),
    ("text", "roc_auc", drift.TEXT_AUC_THRESHOLD),
    ("estimated_accuracy", "drop", drift.ACCURACY_DROP_THRESHOLD),
]


def train_predictor(splits, labels: list[str], seed: int):
    """`fasttext` with its defaults, trained in this process (about 15 s on GOP)."""
    from pipeline.train import fit_model, serving_predictor

    params = resolve_params({"architecture": "fasttext", "seed": seed})
    model, _, _ = fit_model(splits, labels, params)
    return serving_predictor(model, params.architecture, labels)


def scored(predictor, texts, true=None) -> pd.DataFrame:
    """A predictions frame (pipeline.analysis.predictions' shape) for texts."""
    probabilities = np.asarray(predictor.predict_proba(list(texts)), dtype="float64")
    labels = predictor.labels
    frame = pd.DataFrame({"text": list(texts)})
    if true is not None:
        frame["label"] = list(true)
    frame["predicted"] = np.asarray(labels, dtype=object)[probabilities.argmax(axis=1)]
    frame["confidence"] = probabilities.max(axis=1)
    for i, label in enumerate(labels):
        frame[prob_column(label)] = probabilities[:, i]
    return frame


def statistic(findings: dict, finding: str, key: str) -> float:
    """One finding's statistic (the accuracy estimate's drop below the reference)."""
    part = findings[finding]
    if key == "drop":
        return part["reference_accuracy"] - part["estimated"]
    return part[key]


def judge_windows(reference, pool, labels, size: int, count: int, seed: int) -> list[dict]:
    """`count` random windows of `size` texts of the pool, each judged against the
    reference; each finding's statistics, and the window's true and estimated accuracy."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        window = pool.iloc[rng.choice(len(pool), size, replace=False)].reset_index(drop=True)
        findings = drift.check_drift(reference, window, labels, seed=seed * 100 + i)
        row = {key: statistic(findings, finding, key) for finding, key, _ in STATISTICS}
        row["flags"] = {finding: findings[finding]["drift"] for finding, _, _ in STATISTICS}
        row["drift"] = findings["drift"]
        row["true_accuracy"] = float((window["predicted"] == window["label"]).mean())
        row["estimated_accuracy"] = findings["estimated_accuracy"]["estimated"]
        rows.append(row)
    return rows


def stream_switch(reference, gop, apple, labels, size: int, step: int, seed: int) -> dict:
    """Slide a window over GOP texts then Apple tweets: windows flagged before the switch,
    and the switched texts in the first window flagged after it (inf if none)."""
    stream = pd.concat([gop, apple], ignore_index=True)
    switch = len(gop)
    before, detected = 0, math.inf
    for end in range(size, len(stream) + 1, step):
        window = stream.iloc[end - size : end].reset_index(drop=True)
        flagged = drift.check_drift(reference, window, labels, seed=seed)["drift"]
        switched = max(0, end - switch)
        if switched == 0:
            before += flagged
        elif flagged:
            detected = switched
            break
    return {"detected_after": detected, "flagged_before_switch": before,
            "windows_before_switch": len(range(size, switch + 1, step))}  # fmt: skip


def run_seed(gop, apple_texts: list[str], seed: int, args) -> dict:
    """One seed: train, score, then the switch, the tuning and the reported windows."""
    splits = split_data(gop, seed, test_share=TEST_SHARE)
    started = time.perf_counter()
    predictor = train_predictor(splits, gop.labels, seed)
    log(seed, f"trained in {time.perf_counter() - started:.0f} s")
    reference_part, pool = hold_out(splits.test, 0.5, seed)
    # The stream holds each tweet once: the pool's largest retweet burst can be a seventh
    # of it, which would make every window a burst of one tweet.
    pool = pool[~pool["text"].map(normalize_for_grouping).duplicated()]
    tuning_part, reported_part = hold_out(pool, 0.5, seed)
    reference, tuning, reported = (
        scored(predictor, part["text"], part["label"])
        for part in (reference_part, tuning_part, reported_part)
    )
    rng = np.random.default_rng(seed)
    apple = scored(predictor, rng.permutation(apple_texts)[: args.switch_texts])
    labels = gop.labels
    result = {"sizes": {"reference": len(reference), "tuning": len(tuning),
                        "reported": len(reported), "train": len(splits.train)}}  # fmt: skip
    result["switch"] = stream_switch(
        reference, reported.sample(frac=1, random_state=seed), apple, labels,
        args.window, args.step, seed,
    )  # fmt: skip
    log(seed, f"switch: {result['switch']}")
    for name, pool_frame in (("tuning", tuning), ("reported", reported)):
        for size in (args.window, drift.MIN_WINDOW_TEXTS):
            key = f"{name}-{size}"
            result[key] = judge_windows(reference, pool_frame, labels, size, args.windows,
                                        seed * 7 + size + (name == "reported"))  # fmt: skip
            flagged = sum(row["drift"] for row in result[key])
            log(
                seed,
                f"{key}: {flagged} of {args.windows} flagged; largest "
                + ", ".join(
                    f"{k} {max(row[k] for row in result[key]):.4f}" for _, k, _ in STATISTICS
                ),
            )
    result["reference_accuracy"] = float((reference["predicted"] == reference["label"]).mean())
    return result


def log(seed: int, message: str) -> None:
    print(f"seed {seed}: {message}", file=sys.stderr, flush=True)


# --- figures


def seed_figures(result: dict, window: int, group: str, judged: bool) -> list[Figure]:
    """One seed's figures (or, with `judged`, the seeds' pooled ones with the targets)."""
    figures = [
        Figure(
            "switch to the Apple tweets: switched texts in the first flagged window",
            result["detected_after"], "texts", Reference("target", DETECTION_TARGET),
            at_most(1.0) if judged else None, group,
        ),
        Figure("stream windows flagged before the switch", result["flagged_before_switch"],
               f"of {result['windows_before_switch']}", group=group),
    ]  # fmt: skip
    for size, rows in ((window, result["reported"]), (drift.MIN_WINDOW_TEXTS, result["small"])):
        rate = float(np.mean([row["drift"] for row in rows]))
        target = at_most(1.0) if judged and size == window else None
        figures.append(Figure(
            f"GOP windows of {size}: false-alarm rate ({len(rows)} windows)", rate, "",
            Reference("target", FALSE_ALARM_TARGET), target, group,
        ))  # fmt: skip
        for finding, _, _ in STATISTICS:
            share = float(np.mean([row["flags"][finding] for row in rows]))
            figures.append(Figure(f"GOP windows of {size}: flagged by {finding}", share, "",
                                  group=group))  # fmt: skip
    errors = [abs(row["estimated_accuracy"] - row["true_accuracy"]) for row in result["reported"]]
    p = result["reference_accuracy"]
    noise = math.sqrt(p * (1 - p) / window)
    figures += [
        Figure(f"GOP windows of {window}: estimated accuracy, mean absolute error",
               float(np.mean(errors)), "accuracy", Reference("target", ACCURACY_TARGET),
               at_most(1.0) if judged else None, group),
        Figure(f"GOP windows of {window}: estimated accuracy, largest absolute error",
               float(np.max(errors)), "accuracy",
               Reference("sampling noise of one window, sqrt(p(1-p)/n)", noise), group=group),
        Figure("reference accuracy (true labels)", p, "accuracy", group=group),
    ]  # fmt: skip
    for finding, key, threshold in STATISTICS:
        largest = max(row[key] for row in result["tuning"])
        constant = Reference("threshold in pipeline/monitor/drift.py", threshold)
        figures += [
            Figure(f"tuning windows: largest {finding} {key}", largest, "", constant, group=group),
            Figure(f"tuning windows: {finding} threshold by the rule", rule_threshold(largest), "",
                   constant, group=group),
        ]  # fmt: skip
    return figures


def rule_threshold(largest: float) -> float:
    """The smallest multiple of 0.05 at least 0.01 above the largest tuning value."""
    return round(math.ceil(round((largest + 0.01) / 0.05, 6)) * 0.05, 2)


def pooled(results: dict[int, dict], window: int) -> dict:
    """The seeds together: the worst detection, every window."""
    small = drift.MIN_WINDOW_TEXTS

    def every(key):
        return [row for result in results.values() for row in result[key]]

    switches = [result["switch"] for result in results.values()]
    return {
        "detected_after": max(s["detected_after"] for s in switches),
        "flagged_before_switch": sum(s["flagged_before_switch"] for s in switches),
        "windows_before_switch": sum(s["windows_before_switch"] for s in switches),
        "reported": every(f"reported-{window}"),
        "small": every(f"reported-{small}"),
        "tuning": every(f"tuning-{window}") + every(f"tuning-{small}"),
        "reference_accuracy": float(np.mean([r["reference_accuracy"] for r in results.values()])),
    }


def result_figures(results: dict[int, dict], window: int) -> list[Figure]:
    """Pooled figures with the targets, then each seed's."""
    seeds = list(results)
    group = f"all {len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({' '.join(map(str, seeds))})"
    figures = seed_figures(pooled(results, window), window, group, judged=True)
    for seed, result in results.items():
        figures += seed_figures(pooled({seed: result}, window), window, f"seed {seed}", False)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=GOP, help="the labelled data streamed first (GOP)")
    parser.add_argument("--switch-data", default=APPLE, help="the texts switched to")
    parser.add_argument("--switch-label-column", default="sentiment")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--window", type=int, default=500, help="texts in a window")
    parser.add_argument("--step", type=int, default=50, help="texts a window slides by")
    parser.add_argument("--windows", type=int, default=20, help="random windows of each kind")
    parser.add_argument("--switch-texts", type=int, default=1000, help="texts after the switch")
    parser.add_argument("--quick", action="store_true", help="a smoke test: " + str(QUICK))
    parser.add_argument("--note", action="append", default=[], help="a sentence for the result")
    args = parser.parse_args()
    run = Run(__file__, parser, args)
    if args.quick:
        vars(args).update(QUICK)
    if args.window < drift.MIN_WINDOW_TEXTS:
        parser.error(f"--window must be at least {drift.MIN_WINDOW_TEXTS} (MIN_WINDOW_TEXTS).")
    gop = load_labelled_data(args.data)
    apple = load_labelled_data(args.switch_data, label_column=args.switch_label_column)
    results = {seed: run_seed(gop, apple.frame["text"].tolist(), seed, args) for seed in args.seeds}
    notes = [
        f"Windows of {args.window} sliding by {args.step}; {args.windows} random windows of "
        f"each kind and size per seed; seeds {' '.join(map(str, args.seeds))}; the recipe "
        "`fasttext` with its defaults.",
        "Thresholds were chosen on the tuning windows only; the reported windows and the "
        "stream are drawn from other held-out texts.",
    ]
    if args.quick:
        notes.append("--quick: a smoke test; its figures mean little.")
    run.write(result_figures(results, args.window), "quick" if args.quick else "",
              notes + args.note)  # fmt: skip


if __name__ == "__main__":
    main()
