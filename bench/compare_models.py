"""Compare candidate recipes and peers on validation and test over several split seeds.

This is how the default architecture and hyperparameters were chosen (best mean
validation accuracy plus macro-F1, the issue's two figures), and how the default
is measured against its peers on the same leakage-free splits: TF-IDF + logistic
regression, word + character TF-IDF with class balancing (logistic regression and
LinearSVC), and, for negative/neutral/positive labels, the VADER lexicon.

    python bench/compare_models.py --data data/Sentiment.csv --seeds 42 1 2
    python bench/compare_models.py --data apple_tweets.csv --seeds 42 1 2
    python bench/compare_models.py --candidates fasttext "fasttext, final refit"

A final refit trains on the validation part, so its validation figures say nothing;
`--inner` splits each training part again and puts the validation part in the test
columns, which lets a refit be chosen without the test part.

Every figure stands beside the best peer of the same run, chosen on validation (the mean
of validation accuracy and macro-F1 over the seeds). The verdict: the shipped default
recipe's mean test score (the mean of accuracy and macro-F1) at least 1.00x that peer's.
`--from-json FILE` turns the `--json` output of an earlier run into its result file: give
it the run's other options (data, seeds, candidates), as the run had them.
"""

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.record import Figure, Reference, Run, at_least, command_line, variant_of  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.baseline import fit_tfidf_baseline, word_char_features  # noqa: E402
from pipeline.data import Splits, hold_out, load_labelled_data, split_data  # noqa: E402
from pipeline.evaluate import accuracy_and_macro_f1  # noqa: E402
from pipeline.params import resolve_params  # noqa: E402

BASELINE = "tf-idf + logistic regression"
WORD_CHAR = "word+char tf-idf, LR balanced"
WORD_CHAR_SVC = "word+char tf-idf, LinearSVC balanced"
VADER = "VADER lexicon"
PARTS = ("validation", "test")
DEFAULT = "minilm+fasttext (default)"  # the shipped recipe, the one the verdict is on
TRAIN_SECONDS = "train seconds"
CANDIDATES = {
    "minilm": {"architecture": "minilm"},
    "minilm, fourth-root weights": {"architecture": "minilm", "class_weighting": "fourth-root"},
    "minilm-frozen": {"architecture": "minilm-frozen"},
    DEFAULT: {"architecture": "minilm+fasttext"},
    "minilm+fasttext, batch 16": {"architecture": "minilm+fasttext", "batch_size": 16},
    "minilm+fasttext, fine-tuned token embeddings": {
        "architecture": "minilm+fasttext",
        "token_embeddings": "train",
    },
    "minilm+fasttext, layer decay 0.9 + weight EMA 0.99": {
        "architecture": "minilm+fasttext",
        "layer_decay": 0.9,
        "ema_momentum": 0.99,
    },
    "minilm+fasttext, final refit": {"architecture": "minilm+fasttext", "final_refit": "yes"},
    "fasttext": {},
    "fasttext, final refit": {"final_refit": "yes"},
    "lstm (tutorial)": {"architecture": "lstm", "class_weighting": "none"},
}


def word_char_tfidf(splits, labels):
    """Word 1-2 gram and character 2-5 gram TF-IDF, logistic regression with balanced classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        word_char_features(), LogisticRegression(C=3, max_iter=3000, class_weight="balanced")
    )
    model.fit(splits.train["text"], splits.train["label"])
    order = [list(model.classes_).index(label) for label in labels]
    return lambda texts: model.predict_proba(list(texts))[:, order]


def word_char_svc(splits, labels):
    """The same features, a linear SVM with balanced classes (C=0.1); one-hot predictions."""
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    model = make_pipeline(word_char_features(), LinearSVC(C=0.1, class_weight="balanced"))
    model.fit(splits.train["text"], splits.train["label"])

    def predict(texts):
        predicted = model.predict(list(texts))
        return np.array([[float(p == label) for label in labels] for p in predicted])

    return predict


def vader(splits, labels):
    """The VADER lexicon's compound score with its usual thresholds (+-0.05); no training."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def predict(texts):
        one_hot = np.zeros((len(texts), len(labels)))
        for row, text in enumerate(texts):
            compound = analyzer.polarity_scores(text)["compound"]
            label = (
                "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
            )
            one_hot[row, labels.index(label)] = 1
        return one_hot

    return predict


PEERS = {
    BASELINE: fit_tfidf_baseline,
    WORD_CHAR: word_char_tfidf,
    WORD_CHAR_SVC: word_char_svc,
    VADER: vader,
}


def keras_recipe(splits, labels, overrides, seed):
    """Train a candidate as train.py would (int8 storage included where its params say so)."""
    from pipeline.train import fit_model, quantize, serving_predictor

    params = resolve_params({**overrides, "seed": seed})
    model, _, _ = fit_model(splits, labels, params)
    if getattr(params, "quantize", "none") == "int8":
        quantize(model, params.architecture)
    return serving_predictor(model, params.architecture, labels).predict_proba


def inner_split(splits: Splits) -> Splits:
    """Train and validation from the training part, with the validation part as the test."""
    share = config.VALIDATION_SHARE / (1 - config.VALIDATION_SHARE - config.TEST_SHARE)
    train, validation = hold_out(splits.train, share, splits.seed)
    return Splits(
        train.reset_index(drop=True),
        validation.reset_index(drop=True),
        splits.validation,
        splits.seed,
    )


def mean_scores(rows: list[dict], suffix: str = "") -> dict[str, float]:
    """Validation and test accuracy, macro-F1 and their mean ("score"), averaged over the
    rows; scored row by row (no suffix), also the mean train seconds."""
    scores = {}
    for part in PARTS:
        accuracy, macro_f1 = np.mean([r[f"{part}{suffix}"] for r in rows], axis=0)
        scores[f"{part} score"] = (accuracy + macro_f1) / 2
        scores |= {f"{part} accuracy": accuracy, f"{part} macro-F1": macro_f1}
    if not suffix:
        scores[TRAIN_SECONDS] = float(np.mean([r["seconds"] for r in rows]))
    return scores


def best_peer(results: dict) -> str | None:
    """The peer with the best mean validation score over the seeds, None without peers."""
    peers = [name for name in results if name in PEERS]
    return max(peers, key=lambda name: mean_scores(results[name])["validation score"], default=None)


def result_figures(results: dict, seeds: list[int]) -> list[Figure]:
    """Every recipe's scores against the best peer on validation: the means over the seeds
    (rows, and each text once), then each seed's, with the train seconds. The target is on
    the shipped recipe's mean test score.

    Args:
        results: {recipe or peer: [one row per seed]}, as `--json` writes it.
        seeds: the split seeds, in the rows' order.
    """
    peer = best_peer(results)
    reference = f"best peer on validation ({peer})"
    every = slice(None)
    groups = [
        (f"means of {len(seeds)} seeds", every, ""),
        (f"means of {len(seeds)} seeds, each text once", every, ", each text once"),
    ]
    groups += [(f"seed {seed}", slice(i, i + 1), "") for i, seed in enumerate(seeds)]  # fmt: skip
    figures = []
    for group, chosen, suffix in groups:
        theirs = mean_scores(results[peer][chosen], suffix) if peer else {}
        for name, rows in results.items():
            for key, value in mean_scores(rows[chosen], suffix).items():
                against = Reference(reference, theirs[key]) if peer and name != peer else None
                judged = (name, key, chosen, suffix) == (DEFAULT, "test score", every, "")
                target = at_least(1.0) if judged and against else None
                unit = "s" if key == TRAIN_SECONDS else ""
                figures.append(Figure(f"{name}: {key}", value, unit, against, target, group))
    return figures


def read_old_json(path: str, seeds: list[int], candidates: list[str]) -> dict:
    """The results of an earlier run's `--json` file, checked against its options.

    Raises:
        SystemExit: the file's recipes or seed count differ from the options given.
    """
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    found = [name for name in results if name not in PEERS]
    if found != list(candidates):
        sys.exit(f"{path} holds the candidates {found}; give them as --candidates, in order.")
    counts = {len(rows) for rows in results.values()}
    if counts != {len(seeds)}:
        sys.exit(f"{path} holds {sorted(counts)} rows per recipe; --seeds gives {len(seeds)}.")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(config.KAGGLE_DATA_PATH))
    parser.add_argument("--label-column", default=config.DEFAULT_LABEL_COLUMN)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), metavar="NAME")
    parser.add_argument("--json", help="also write every seed's figures to this file")
    parser.add_argument(
        "--probabilities",
        metavar="DIR",
        help="also write each seed's validation and test probabilities and labels, one .npz "
        "per seed, for studying ensembles and decision rules offline",
    )
    parser.add_argument(
        "--inner",
        action="store_true",
        help="split each seed's training part again (grouped and stratified, the validation "
        "share) and score on the split's validation part in the test column: for choosing "
        "settings, such as a final refit, that the validation part cannot judge, without "
        "looking at the test part",
    )
    parser.add_argument(
        "--from-json",
        metavar="FILE",
        help="train nothing: write the result file of the earlier run whose --json output "
        "FILE is, given that run's other options",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="with --from-json: a sentence for the result file, e.g. how the file was made",
    )
    args = parser.parse_args()
    if args.from_json:
        convert(parser, args)
        return
    run = Run(__file__, parser, args)
    data = load_labelled_data(args.data, label_column=args.label_column)
    peers = [
        p for p in PEERS if p != VADER or set(data.labels) == {"negative", "neutral", "positive"}
    ]
    results = {}
    for seed in args.seeds:
        splits = split_data(data, seed)
        if args.inner:
            splits = inner_split(splits)
        saved = {f"{part}_labels": getattr(splits, part)["label"].to_numpy(str) for part in PARTS}
        for name in [*peers, *args.candidates]:
            started = time.perf_counter()
            if name in PEERS:
                predict = PEERS[name](splits, data.labels)
            else:
                predict = keras_recipe(splits, data.labels, CANDIDATES[name], seed)
            seconds = time.perf_counter() - started
            row = {"seconds": seconds}
            for part in PARTS:
                frame = getattr(splits, part)
                probabilities = predict(frame["text"])
                saved[f"{part}/{name}"] = probabilities
                row[part], row[f"{part}, each text once"] = accuracy_and_macro_f1(
                    frame["text"], frame["label"].tolist(), probabilities, data.labels
                )
            results.setdefault(name, []).append(row)
            print(f"seed {seed} {name:30} {json.dumps(row)}", file=sys.stderr, flush=True)
        if args.probabilities:
            Path(args.probabilities).mkdir(parents=True, exist_ok=True)
            np.savez(Path(args.probabilities) / f"seed-{seed}.npz", labels=data.labels, **saved)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print_tables(results, args, data.source)
    run.write(result_figures(results, args.seeds), variant_of(args.data), notes_of(args))


def notes_of(args) -> list[str]:
    """What the page should say about a run besides its command."""
    notes = []
    if args.inner:
        notes.append("--inner: the test figures are the validation part's.")
    if DEFAULT not in args.candidates:
        notes.append(f"The shipped recipe ({DEFAULT}) was not among the candidates: no target.")
    return notes


def convert(parser, args) -> None:
    """Write the result file of an earlier run from its `--json` file (see --from-json)."""
    results = read_old_json(args.from_json, args.seeds, args.candidates)
    run = Run(__file__, parser, args)
    argv = [a for i, a in enumerate(sys.argv) if "--note" not in sys.argv[i - 1 : i + 1]]
    at = argv.index("--from-json")
    run.command = command_line([*argv[:at], "--json", *argv[at + 1 :]])
    run.changed.pop("from_json", None)
    run.changed.pop("note", None)
    run.changed["json"] = {"value": args.from_json, "default": None}
    written = datetime.fromtimestamp(Path(args.from_json).stat().st_mtime, UTC)
    notes = [
        f"Converted from the --json file {args.from_json} by --from-json: the date is when "
        "the run wrote it; the machine, commit and load average are the conversion's.",
        *args.note,
    ]
    print_tables(results, args, args.data)
    figures = result_figures(results, args.seeds)
    run.write(figures, variant_of(args.data), notes + notes_of(args), date=written, timed=False)


def print_tables(results: dict, args, source: str) -> None:
    """The means over the seeds as Markdown tables, rows and each text once."""
    seeds = f"{len(args.seeds)} seeds ({' '.join(map(str, args.seeds))}), {source}"
    if args.inner:
        seeds += " (--inner: the test columns are the validation part)"
    for suffix in ("", ", each text once"):
        # The second table scores each distinct tweet once (pipeline.evaluate.each_text_once):
        # a part can be dominated by hundreds of copies of one retweet.
        print(f"\n{seeds}, means{suffix}:")
        print("| recipe | val accuracy | val macro-F1 | test accuracy | test macro-F1 | train s |")
        print("|---|---|---|---|---|---|")
        for name, rows in results.items():
            val = np.mean([r[f"validation{suffix}"] for r in rows], axis=0)
            test = np.mean([r[f"test{suffix}"] for r in rows], axis=0)
            seconds = np.mean([r["seconds"] for r in rows])
            print(
                f"| {name} | {val[0]:.3f} | {val[1]:.3f} | {test[0]:.3f} | {test[1]:.3f} "
                f"| {seconds:.0f} |"
            )


if __name__ == "__main__":
    main()
