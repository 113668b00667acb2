"""Drift: does a window of current texts still look like the version's reference?

Four findings, each against a threshold chosen on windows of held-out GOP texts
(bench/drift.py, docs/monitoring.md):

- `label_mix`: the share of each predicted label, reference against current, as a
  Jensen–Shannon distance (base 2: 0 for the same mix, 1 for disjoint ones);
- `confidence`: the model's confidence, a two-sample Kolmogorov–Smirnov test;
- `text`: Evidently's domain classifier: TF-IDF and logistic regression try to tell
  reference texts from current ones (5-fold cross-validated ROC AUC; 0.5 when they cannot),
  and the words that most give the current texts away;
- `estimated_accuracy`: NannyML's CBPE idea: "prediction correct" regressed on confidence
  (isotonic) on texts with true labels, averaged over the current window: an accuracy
  estimate that needs no labels.

Why not Evidently itself: it pulls in plotly, nltk and more, too heavy for a dashboard on
Streamlit Community Cloud, while its methods here are a few lines of scikit-learn and SciPy.
"""

import functools

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.analysis.evaluations import (
    TEST_PART,
    load_source_predictions,
    prediction_sources,
)
from pipeline.analysis.predictions import load_predictions, prob_column
from pipeline.csvfile import check_text_column, guess_text_column, read_csv
from pipeline.data import normalize_label
from pipeline.errors import DataError
from pipeline.predict import Predictor, load_predictor
from pipeline.registry import Registry
from pipeline.text import normalize_for_grouping
from pipeline.wording import percent, plural

# The smallest window judged: below it, GOP windows' label mix and domain-classifier AUC
# wander past the thresholds by chance (bench/drift.py).
MIN_WINDOW_TEXTS = 200
# Thresholds, chosen on GOP-against-GOP tuning windows of bench/drift.py (docs/monitoring.md).
LABEL_MIX_THRESHOLD = 0.1  # Jensen–Shannon distance, base 2
CONFIDENCE_THRESHOLD = 0.15  # Kolmogorov–Smirnov statistic (largest gap of the two CDFs)
CONFIDENCE_P_VALUE = 0.01  # ... and the gap must also be significant
TEXT_AUC_THRESHOLD = 0.6  # the domain classifier's cross-validated ROC AUC
ACCURACY_DROP_THRESHOLD = 0.05  # estimated accuracy this far below the reference's
# The domain classifier: folds, the most distinct texts taken from each side, words shown.
CV_FOLDS = 5
MAX_DOMAIN_TEXTS = 2_000
TOP_WORDS = 10
# A CSV with these columns is an exported prediction log, scored when it was logged.
LOG_COLUMNS = ("version", "predicted", "confidence")
LABEL_COLUMNS = (config.DEFAULT_LABEL_COLUMN, "label")


def _predictor(registry: Registry, version: str) -> Predictor:
    return _load_predictor(str(registry.root), version)


@functools.lru_cache(maxsize=1)  # the reference and the window are scored by one model
def _load_predictor(root: str, version: str) -> Predictor:
    return load_predictor(root, version)


def score_frame(registry: Registry, version: str, texts) -> pd.DataFrame:
    """Score texts with a version into the frame shape of its saved test predictions.

    Args:
        registry: the registry holding the version.
        version: a version id.
        texts: raw texts.

    Returns:
        `text`, `predicted`, `confidence` and one `prob_<label>` column per class.
    """
    predictor = _predictor(registry, version)
    texts = [str(text) for text in texts]
    probabilities = np.asarray(predictor.predict_proba(texts), dtype="float64")
    labels = predictor.labels
    frame = pd.DataFrame({"text": texts})
    frame["predicted"] = np.asarray(labels, dtype=object)[probabilities.argmax(axis=1)]
    frame["confidence"] = probabilities.max(axis=1) if len(texts) else []
    for i, label in enumerate(labels):
        frame[prob_column(label)] = probabilities[:, i]
    return frame


def read_rows(path) -> tuple[pd.DataFrame, str]:
    """A CSV's rows (every cell a string) and name; refused when empty or too long."""
    frame, name, _ = read_csv(path, max_rows=config.MAX_POOL_ROWS)
    if len(frame) > config.MAX_POOL_ROWS:
        raise DataError(f"{name} has more than {config.MAX_POOL_ROWS:,} rows. Use a sample.")
    if frame.empty:
        raise DataError(f"{name} has a header but no rows.")
    return frame, name


def texts_of(
    frame: pd.DataFrame, name: str, text_column: str | None = None
) -> tuple[pd.DataFrame, str, bool]:
    """A CSV's rows with a text, the text column and whether that column was guessed."""
    guessed = not text_column
    if guessed:
        text_column = guess_text_column(frame, name, config.DEFAULT_TEXT_COLUMN)
    else:
        check_text_column(frame, text_column, name)
    frame = frame[frame[text_column].str.strip() != ""].reset_index(drop=True)
    return frame, text_column, guessed


def true_labels(frame: pd.DataFrame, labels: list[str], text_column: str) -> pd.Series | None:
    """A CSV's true labels, normalised, when a label column holds the version's labels."""
    for column in LABEL_COLUMNS:
        if column == text_column or column not in frame.columns:
            continue
        values = frame[column].map(normalize_label)
        given = values[values != ""]
        if not given.empty and given.isin(labels).all():
            return values.where(values != "", None)
    return None


def reference_frame(
    registry: Registry,
    version: str,
    reference_csv=None,
    text_column: str | None = None,
) -> pd.DataFrame:
    """The texts a window is compared with: by default the version's saved test predictions.

    Args:
        registry: the registry.
        version: a version id.
        reference_csv: a CSV of texts to score with the version instead; its true labels
            are kept when a `sentiment` or `label` column holds the version's labels.
        text_column: the CSV's text column; default guessed.

    Returns:
        The predictions frame (`label` only where true labels are known); `attrs["source"]`
        says where it came from.

    Raises:
        DataError: the version has no saved test predictions and no CSV was given, or the
            CSV is unreadable or has no texts.
    """
    version = registry.resolve(version)
    if reference_csv is None:
        sources = prediction_sources(registry, version)
        if not sources:
            raise DataError(
                f"Version {version} was saved without its test predictions, the default "
                "reference, and has no evaluation. Give a CSV of texts like the ones it should "
                f"see with --reference, evaluate it on one (python -m pipeline evaluate "
                f"{version} --data CSV), or compute its test predictions once: "
                f"python -m pipeline errors {version} --data TRAINING.csv"
            )
        # Its test part when at hand, else its newest evaluation (as the Monitor tab does).
        source = sources[0]
        frame = load_source_predictions(registry, version, source.key)
        kind = "test predictions" if source.key == TEST_PART else "evaluation"
        frame.attrs["source"] = {"kind": kind, "name": source.title}
        return frame
    rows, name = read_rows(reference_csv)
    texts, column, guessed = texts_of(rows, name, text_column)
    frame = score_frame(registry, version, texts[column])
    labels = true_labels(texts, registry.metadata(version)["labels"], column)
    if labels is not None:
        frame.insert(1, "label", labels.to_numpy())
    frame.attrs["source"] = {"kind": "texts", "name": name, "text_column": column,
                             "text_column_guessed": guessed}  # fmt: skip
    return frame


def log_frame(frame: pd.DataFrame, name: str, version: str, labels: list[str]) -> pd.DataFrame:
    """A prediction log's rows of one version, with its stored probabilities as numbers."""
    versions = frame["version"].str.strip()
    if not (versions == version).any():
        others = sorted(set(versions) - {""}) or ["no version"]
        raise DataError(
            f"{name}: this log is from version {', '.join(others)}, not {version}. "
            "Give that --version, or a log of this one."
        )
    kept = frame[versions == version].reset_index(drop=True)
    probabilities = [prob_column(label) for label in labels]
    missing = [c for c in probabilities if c not in kept.columns]
    if missing:
        raise DataError(
            f"{name} has no column {', '.join(missing)}: it is not a log of {version}'s labels."
        )
    texts = kept["text"] if "text" in kept.columns else pd.Series([""] * len(kept), dtype=str)
    out = pd.DataFrame({"text": texts.where(texts.str.strip() != "", None).to_numpy()})
    out["predicted"] = kept["predicted"].map(normalize_label)
    for column in ["confidence", *probabilities]:
        values = pd.to_numeric(kept[column], errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax()) + 2
            raise DataError(f"{name}: column {column!r} has no number on line {row} or others.")
        out[column] = values.to_numpy(dtype="float64")
    out.attrs["source"] = {"kind": "prediction log", "name": name, "rows_read": len(frame),
                           "rows_of_other_versions": len(frame) - len(kept)}  # fmt: skip
    return out


def current_frame(registry: Registry, version: str, path, text_column: str | None = None):
    """The window to judge: an exported prediction log, or a plain CSV of texts.

    Args:
        registry: the registry.
        version: a version id.
        path: a CSV; with columns `version`, `predicted` and `confidence` it is a prediction
            log, whose stored probabilities are used and whose other versions' rows are left
            out (counted in `attrs["source"]`); else its texts are scored with the version.
        text_column: a plain CSV's text column; default guessed.

    Returns:
        The predictions frame (`text` empty where the log kept only a hash).

    Raises:
        DataError: unreadable, no rows, no texts, or a log of other versions only.
    """
    version = registry.resolve(version)
    labels = registry.metadata(version)["labels"]
    frame, name = read_rows(path)
    if all(column in frame.columns for column in LOG_COLUMNS):
        return log_frame(frame, name, version, labels)
    texts, column, guessed = texts_of(frame, name, text_column)
    scored = score_frame(registry, version, texts[column])
    scored.attrs["source"] = {"kind": "texts", "name": name, "text_column": column,
                              "text_column_guessed": guessed, "rows_read": len(frame)}  # fmt: skip
    return scored


def calibration_frame(registry: Registry, version: str, reference: pd.DataFrame):
    """The texts with true labels that calibrate the accuracy estimate: the reference's if
    it has them, else the version's saved test predictions, else None."""
    if "label" in reference.columns and reference["label"].notna().any():
        return reference
    return load_predictions(registry, version)


# --- the findings


def label_mix(reference: pd.DataFrame, current: pd.DataFrame, labels: list[str]) -> dict:
    """Each predicted label's share, reference and current, and their Jensen–Shannon
    distance against LABEL_MIX_THRESHOLD."""
    from scipy.spatial.distance import jensenshannon

    def shares(frame):
        return frame["predicted"].value_counts(normalize=True).reindex(labels, fill_value=0.0)

    before, after = shares(reference), shares(current)
    distance = float(jensenshannon(before.to_numpy(), after.to_numpy(), base=2))
    return {
        "reference": {label: round(float(v), 4) for label, v in before.items()},
        "current": {label: round(float(v), 4) for label, v in after.items()},
        "jensen_shannon": round(distance, 4),
        "threshold": LABEL_MIX_THRESHOLD,
        "drift": distance > LABEL_MIX_THRESHOLD,
    }


def confidence_shift(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    """Mean confidence, reference and current, and a Kolmogorov–Smirnov test of the two
    distributions: drift when its statistic passes CONFIDENCE_THRESHOLD, significantly."""
    from scipy.stats import ks_2samp

    test = ks_2samp(reference["confidence"], current["confidence"])
    statistic, p_value = float(test.statistic), float(test.pvalue)
    return {
        "reference_mean": round(float(reference["confidence"].mean()), 4),
        "current_mean": round(float(current["confidence"].mean()), 4),
        "ks_statistic": round(statistic, 4),
        "p_value": float(f"{p_value:.3g}"),
        "threshold": CONFIDENCE_THRESHOLD,
        "p_value_threshold": CONFIDENCE_P_VALUE,
        "drift": statistic > CONFIDENCE_THRESHOLD and p_value < CONFIDENCE_P_VALUE,
    }


def distinct_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with each text once after normalisation (rows without a text all kept).

    Tweets come in bursts of retweets: one tweet copied 160 times makes a tenth of a GOP
    sample of 1,000, and would move the label mix, the confidence and the domain classifier
    (which would recognise the copy across folds) by itself. Each finding but the accuracy
    estimate therefore counts a text once.
    """
    if "text" not in frame.columns:
        return frame
    texts = frame["text"].fillna("").astype(str)
    keys = texts.map(normalize_for_grouping)
    return frame[(texts.str.strip() == "") | ~keys.duplicated()]


def distinct_texts(frame: pd.DataFrame) -> list[str]:
    """A frame's texts, each once after normalisation (see `distinct_rows`)."""
    if "text" not in frame.columns:
        return []
    texts = distinct_rows(frame)["text"].dropna().astype(str)
    return texts[texts.str.strip() != ""].tolist()


def text_drift(reference: pd.DataFrame, current: pd.DataFrame, seed: int = 0) -> dict:
    """Evidently's domain classifier: can TF-IDF and logistic regression tell current texts
    from reference ones? Its cross-validated ROC AUC against TEXT_AUC_THRESHOLD, and the
    words that most say "current"."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    before, after = distinct_texts(reference), distinct_texts(current)
    size = min(len(before), len(after), MAX_DOMAIN_TEXTS)
    if size < MIN_WINDOW_TEXTS // 2:
        side = "current window" if len(after) <= len(before) else "reference"
        have = plural(min(len(before), len(after)), "distinct text")
        return {"skipped": (
            f"text drift not judged: the {side} has {have} (a log that keeps only hashes has "
            f"none); it needs {MIN_WINDOW_TEXTS // 2:,}."
        ), "drift": False}  # fmt: skip
    rng = np.random.default_rng(seed)
    texts = [before[i] for i in rng.choice(len(before), size, replace=False)]
    texts += [after[i] for i in rng.choice(len(after), size, replace=False)]
    is_current = np.repeat([0, 1], size)
    classifier = make_pipeline(
        TfidfVectorizer(min_df=2, sublinear_tf=True), LogisticRegression(max_iter=1000)
    )
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
    auc = float(cross_val_score(classifier, texts, is_current, cv=folds, scoring="roc_auc").mean())
    classifier.fit(texts, is_current)
    return {
        "roc_auc": round(auc, 4),
        "threshold": TEXT_AUC_THRESHOLD,
        "drift": auc > TEXT_AUC_THRESHOLD,
        "texts_each_side": int(size),
        "top_words": top_words(classifier, texts, is_current),
    }


def top_words(classifier, texts: list[str], is_current: np.ndarray) -> list[dict]:
    """The words whose weight most pulls a text toward "current", with the share of current
    and reference texts that hold each."""
    vectorizer, model = classifier.steps[0][1], classifier.steps[1][1]
    weights = model.coef_[0]
    words = vectorizer.get_feature_names_out()
    present = vectorizer.transform(texts) > 0
    found = []
    for i in np.argsort(-weights)[:TOP_WORDS]:
        if weights[i] <= 0:
            break
        column = np.asarray(present[:, i].todense()).ravel()
        found.append({
            "word": str(words[i]),
            "weight": round(float(weights[i]), 3),
            "current_share": round(float(column[is_current == 1].mean()), 4),
            "reference_share": round(float(column[is_current == 0].mean()), 4),
        })  # fmt: skip
    return found


def estimated_accuracy(calibration: pd.DataFrame | None, current: pd.DataFrame, labels) -> dict:
    """NannyML's CBPE idea: P(correct | confidence) by isotonic regression on texts with
    true labels, averaged over the current window."""
    from sklearn.isotonic import IsotonicRegression

    if calibration is None or "label" not in calibration.columns:
        return {"skipped": "no texts with true labels to calibrate on: give a --reference CSV "
                "with a label column, or use a version saved with its test predictions",
                "drift": False}  # fmt: skip
    known = calibration[calibration["label"].isin(labels)]
    if len(known) < MIN_WINDOW_TEXTS:
        return {"skipped": f"only {plural(len(known), 'text')} with true labels to calibrate "
                f"on; {MIN_WINDOW_TEXTS:,} are needed", "drift": False}  # fmt: skip
    correct = (known["predicted"] == known["label"]).to_numpy(dtype="float64")
    curve = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    curve.fit(known["confidence"].to_numpy(), correct)
    estimate = float(curve.predict(current["confidence"].to_numpy()).mean())
    reference = float(correct.mean())
    return {
        "estimated": round(estimate, 4),
        "reference_accuracy": round(reference, 4),
        "calibration_texts": len(known),
        "threshold": ACCURACY_DROP_THRESHOLD,
        "drift": reference - estimate > ACCURACY_DROP_THRESHOLD,
    }


def check_frame(frame: pd.DataFrame, labels: list[str], name: str) -> None:
    """Refuse a frame without predictions of these labels."""
    for column in ("predicted", "confidence"):
        if column not in frame.columns:
            raise DataError(f"The {name} has no {column!r} column.")
    unknown = sorted(set(frame["predicted"]) - set(labels))
    if unknown:
        raise DataError(
            f"The {name} predicts {', '.join(map(str, unknown))}, not among the version's "
            f"labels ({', '.join(labels)})."
        )


def check_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    labels: list[str],
    seed: int = 0,
    calibration: pd.DataFrame | None = None,
) -> dict:
    """Compare a window with the reference: the four findings, one flag and the reasons.

    Args:
        reference: the reference predictions (`reference_frame`).
        current: the window's predictions (`current_frame`, `score_frame`).
        labels: the version's label order.
        seed: the domain classifier's sampling and folds.
        calibration: texts with true labels for the accuracy estimate; default the
            reference, when it has them (see `calibration_frame`).

    Returns:
        A JSON-ready dict: `drift`, `reasons`, `texts`, `reference_texts`, `label_mix`,
        `confidence`, `text`, `estimated_accuracy`.

    Raises:
        DataError: a window smaller than MIN_WINDOW_TEXTS, or frames without predictions.
    """
    if current.empty:
        raise DataError(f"The current window is empty: it needs at least {MIN_WINDOW_TEXTS:,} "
                        "texts to be judged.")  # fmt: skip
    if len(current) < MIN_WINDOW_TEXTS:
        raise DataError(
            f"The current window has {plural(len(current), 'text')}; drift is judged on at "
            f"least {MIN_WINDOW_TEXTS:,}, as fewer differ by chance alone."
        )
    if reference.empty:
        raise DataError("The reference has no texts.")
    check_frame(reference, labels, "reference")
    check_frame(current, labels, "current window")
    if calibration is None and "label" in reference.columns:
        calibration = reference
    distinct_reference, distinct_current = distinct_rows(reference), distinct_rows(current)
    findings = {
        "label_mix": label_mix(distinct_reference, distinct_current, labels),
        "confidence": confidence_shift(distinct_reference, distinct_current),
        "text": text_drift(reference, current, seed),
        "estimated_accuracy": estimated_accuracy(calibration, current, labels),
    }
    reasons = drift_reasons(findings)
    return {"drift": bool(reasons), "reasons": reasons, "texts": len(current),
            "distinct_texts": len(distinct_current), "reference_texts": len(reference),
            "distinct_reference_texts": len(distinct_reference), **findings}  # fmt: skip


def drift_reasons(findings: dict) -> list[str]:
    """One sentence per flagged finding."""
    reasons = []
    mix = findings["label_mix"]
    if mix["drift"]:
        moved = max(mix["current"], key=lambda k: abs(mix["current"][k] - mix["reference"][k]))
        reasons.append(
            f"The predicted label mix moved (Jensen–Shannon distance {mix['jensen_shannon']:.3f} "
            f"> {mix['threshold']}): {moved} {percent(mix['reference'][moved])} in the "
            f"reference, {percent(mix['current'][moved])} now."
        )
    confidence = findings["confidence"]
    if confidence["drift"]:
        reasons.append(
            f"The model's confidence shifted (mean {confidence['reference_mean']:.3f} -> "
            f"{confidence['current_mean']:.3f}; KS statistic {confidence['ks_statistic']:.3f} > "
            f"{confidence['threshold']}, p = {confidence['p_value']:.2g})."
        )
    text = findings["text"]
    if text["drift"]:
        words = ", ".join(w["word"] for w in text["top_words"][:5])
        reasons.append(
            f"The texts changed: a classifier tells them from the reference's with ROC AUC "
            f"{text['roc_auc']:.3f} > {text['threshold']} (words: {words})."
        )
    accuracy = findings["estimated_accuracy"]
    if accuracy["drift"]:
        reasons.append(
            f"Estimated accuracy {accuracy['estimated']:.3f} is more than "
            f"{accuracy['threshold']} below the reference's {accuracy['reference_accuracy']:.3f}."
        )
    return reasons
