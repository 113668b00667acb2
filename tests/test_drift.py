"""Drift findings (pipeline.monitor.drift.check_drift) on synthetic windows built by hand:
each finding flags the change it is for, and only that one; same-distribution windows are
not flagged; too small a window, or hashed texts, are said plainly."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline import config
from pipeline.errors import DataError
from pipeline.monitor import drift
from pipeline.monitor.drift import MIN_WINDOW_TEXTS, check_drift

LABELS = ["negative", "neutral", "positive"]
POLITICS = [
    "debate",
    "candidate",
    "vote",
    "trump",
    "bush",
    "rubio",
    "cruz",
    "kasich",
    "carson",
    "fox",
    "moderator",
    "question",
    "answer",
    "stage",
    "republican",
    "gop",
    "immigration",
    "border",
    "tax",
    "economy",
    "iran",
    "deal",
    "abortion",
    "rally",
    "poll",
    "primary",
    "senator",
    "governor",
    "speech",
    "crowd",
    "night",
]
PHONES = [
    "iphone",
    "ipad",
    "aapl",
    "stock",
    "earnings",
    "tim",
    "cook",
    "mac",
    "watch",
    "store",
    "battery",
    "screen",
]
MIX = (0.6, 0.2, 0.2)


def window(n, words=POLITICS, mix=MIX, confidence=(0.4, 1.0), seed=0, labelled=True):
    """n texts of 8 random words, predicted labels drawn from `mix`, confidence uniform in
    `confidence`; the true label is the predicted one with probability `confidence`
    (a calibrated model), else another label."""
    rng = np.random.default_rng(seed)
    predicted = rng.choice(LABELS, n, p=mix)
    conf = rng.uniform(*confidence, n)
    frame = pd.DataFrame({
        "text": [" ".join(rng.choice(words, 8)) for _ in range(n)],
        "predicted": predicted,
        "confidence": conf,
    })  # fmt: skip
    if labelled:
        wrong = rng.random(n) > conf
        shift = rng.integers(1, len(LABELS), n)
        index = np.array([LABELS.index(p) for p in predicted])
        frame.insert(1, "label", np.where(wrong, np.array(LABELS)[(index + shift) % 3], predicted))
    for label in LABELS:  # the other classes share what confidence leaves
        frame[f"prob_{label}"] = np.where(predicted == label, conf, (1 - conf) / 2)
    return frame


@pytest.fixture(scope="module")
def reference():
    return window(1500, seed=1)


def test_windows_of_the_same_distribution_are_not_flagged(reference):
    for seed in (2, 3, 4):
        findings = check_drift(reference, window(400, seed=seed, labelled=False), LABELS)
        assert findings["drift"] is False, findings["reasons"]
        assert findings["reasons"] == []
        parts = ("label_mix", "confidence", "text", "estimated_accuracy")
        assert not any(findings[part]["drift"] for part in parts)
        assert findings["texts"] == 400 and findings["reference_texts"] == 1500


def test_texts_on_another_topic_flag_text_drift_with_the_words_that_give_it_away(reference):
    current = window(400, words=PHONES + POLITICS[:5], seed=5, labelled=False)
    findings = check_drift(reference, current, LABELS)
    text = findings["text"]
    assert text["drift"] is True and text["roc_auc"] > 0.9
    top = [w["word"] for w in text["top_words"][:5]]
    assert set(top) <= set(PHONES), top
    assert all(w["current_share"] > w["reference_share"] for w in text["top_words"][:5])
    assert findings["drift"] is True
    assert not findings["label_mix"]["drift"] and not findings["confidence"]["drift"]
    (reason,) = findings["reasons"]
    assert "texts changed" in reason and top[0] in reason


def test_a_shift_of_the_predicted_labels_flags_the_label_mix(reference):
    current = window(400, mix=(0.2, 0.2, 0.6), seed=6, labelled=False)
    findings = check_drift(reference, current, LABELS)
    mix = findings["label_mix"]
    assert mix["drift"] is True and mix["jensen_shannon"] > mix["threshold"]
    assert mix["current"]["positive"] > 0.5 > mix["reference"]["positive"]
    assert not findings["text"]["drift"]
    assert any("label mix" in reason and "positive" in reason for reason in findings["reasons"])


def test_a_less_confident_model_flags_the_confidence_and_the_estimated_accuracy(reference):
    current = window(400, confidence=(0.34, 0.7), seed=7)
    findings = check_drift(reference, current, LABELS)
    confidence = findings["confidence"]
    assert confidence["drift"] is True
    assert confidence["current_mean"] < confidence["reference_mean"]
    assert findings["estimated_accuracy"]["drift"] is True
    assert not findings["label_mix"]["drift"] and not findings["text"]["drift"]


def test_the_estimated_accuracy_follows_the_true_accuracy_without_labels(reference):
    for seed, confidence in ((8, (0.4, 1.0)), (9, (0.34, 0.7)), (10, (0.7, 1.0))):
        current = window(2000, confidence=confidence, seed=seed)
        true = (current["predicted"] == current["label"]).mean()
        found = check_drift(reference, current.drop(columns="label"), LABELS)
        estimate = found["estimated_accuracy"]
        assert estimate["estimated"] == pytest.approx(true, abs=0.03)
        reference_accuracy = (reference["predicted"] == reference["label"]).mean()
        assert estimate["reference_accuracy"] == pytest.approx(reference_accuracy, abs=1e-4)


def test_without_true_labels_the_estimate_is_unavailable_and_says_why():
    unlabelled = window(800, seed=11, labelled=False)
    findings = check_drift(unlabelled, window(300, seed=12, labelled=False), LABELS)
    estimate = findings["estimated_accuracy"]
    assert "true labels" in estimate["skipped"] and estimate["drift"] is False
    calibrated = check_drift(unlabelled, window(300, seed=12), LABELS, calibration=window(800))
    assert "estimated" in calibrated["estimated_accuracy"]


def test_hashed_texts_skip_text_drift_with_a_reason_and_judge_the_rest(reference):
    current = window(400, mix=(0.2, 0.2, 0.6), seed=13, labelled=False)
    current["text"] = None
    findings = check_drift(reference, current, LABELS)
    assert "hashes" in findings["text"]["skipped"]
    assert findings["text"]["drift"] is False
    assert findings["label_mix"]["drift"] is True  # the rest is still judged


@pytest.mark.parametrize("size", [0, 1, MIN_WINDOW_TEXTS - 1])
def test_too_small_a_window_is_refused_saying_how_many_texts_are_needed(reference, size):
    current = window(max(size, 1), seed=14)[:size]
    with pytest.raises(DataError, match=f"at least {MIN_WINDOW_TEXTS:,}") as error:
        check_drift(reference, current, LABELS)
    assert "empty" in str(error.value) if size == 0 else f"has {size:,} text" in str(error.value)


def test_a_burst_of_copies_of_one_tweet_counts_once(reference):
    current = window(300, seed=15, labelled=False)
    burst = pd.concat([current.iloc[[0]].assign(predicted="positive", confidence=0.99)] * 200)
    findings = check_drift(reference, pd.concat([current, burst], ignore_index=True), LABELS)
    assert findings["texts"] == 500 and findings["distinct_texts"] == 300
    assert not findings["label_mix"]["drift"] and not findings["confidence"]["drift"]


def test_predictions_outside_the_versions_labels_are_refused(reference):
    current = window(300, seed=16).assign(predicted="sarcastic")
    with pytest.raises(DataError, match="predicts sarcastic, not among the version's labels"):
        check_drift(reference, current, LABELS)


def test_the_findings_are_json_and_the_same_for_the_same_seed(reference):
    current = window(300, words=PHONES + POLITICS, seed=17, labelled=False)
    first = check_drift(reference, current, LABELS, seed=3)
    assert json.loads(json.dumps(first)) == first
    assert check_drift(reference, current, LABELS, seed=3) == first


@pytest.mark.parametrize(
    "name",
    ["MIN_WINDOW_TEXTS", "LABEL_MIX_THRESHOLD", "CONFIDENCE_THRESHOLD", "TEXT_AUC_THRESHOLD",
     "ACCURACY_DROP_THRESHOLD"],
)  # fmt: skip
def test_the_monitoring_page_states_each_threshold_as_the_code_has_it(name):
    page = (config.PROJECT_ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    assert f"`{name}` ({getattr(drift, name)})" in page
