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
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

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
CANDIDATES = {
    "minilm": {"architecture": "minilm"},
    "minilm, fourth-root weights": {"architecture": "minilm", "class_weighting": "fourth-root"},
    "minilm-frozen": {"architecture": "minilm-frozen"},
    "minilm+fasttext (default)": {"architecture": "minilm+fasttext"},
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
    args = parser.parse_args()
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
    seeds = f"{len(args.seeds)} seeds ({' '.join(map(str, args.seeds))}), {data.source}"
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
