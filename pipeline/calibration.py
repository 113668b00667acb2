"""Calibration: when the model says 80 %, is it right 8 times in 10?

The expected calibration error (ECE) is the gap between confidence (the top probability)
and accuracy, averaged over equal-width confidence bins weighted by how many texts fall in
each; the bins themselves are the reliability diagram.

Temperature scaling (Guo et al., 2017, "On calibration of modern neural networks") divides
the model's log-probabilities by one number T fitted on the validation part by minimising
the negative log-likelihood: T > 1 softens an over-confident model, T < 1 sharpens an
under-confident one. The top class never changes, so accuracy and F1 do not. The
temperature is kept inside the saved model (runtimes.layers.TemperatureScaling) only when
it lowers the validation ECE (pipeline.train.calibrate decides and applies it); the test part
is only measured, never fitted on.

This module is the arithmetic alone, and depends on no model: the TensorFlow-free serving
paths (pipeline/runtimes/) apply the same `scale_probabilities` as the Keras layer.
"""

import numpy as np
import pandas as pd

# Equal-width bins of the top probability, for the ECE and the reliability diagram.
CONFIDENCE_BINS = 10
# Probabilities are clipped here before the log, so a 0 (float32 underflow) stays finite.
PROBABILITY_FLOOR = 1e-7
# The range searched for T: far wider than any fitted value seen (0.6 to 2 here).
TEMPERATURE_BOUNDS = (0.05, 20.0)
METHOD = "temperature scaling: T fitted on the validation part by minimising its NLL"


def encode(values, labels: list[str]) -> np.ndarray:
    """Label names to their column index in `labels` (the probability columns' order)."""
    return pd.Categorical(list(values), categories=labels).codes.astype("int64")


def reliability_bins(probabilities, y, bins: int = CONFIDENCE_BINS) -> list[dict]:
    """The reliability diagram: per equal-width bin of the top probability, its range, how
    many texts fall in it, their mean confidence and their accuracy.

    Args:
        probabilities: shape (n, classes).
        y: the true class indices, shape (n,).
        bins: the number of bins over [0, 1].

    Returns:
        One dict per bin, lowest first: low, high, count, confidence, accuracy (the last
        two None for an empty bin).
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == np.asarray(y)).astype("float64")
    # np.histogram's bins: [low, high) except the last, which holds 1.0 too.
    counts, edges = np.histogram(confidence, bins=bins, range=(0.0, 1.0))
    hits, _ = np.histogram(confidence, bins=edges, weights=correct)
    confidence_sums, _ = np.histogram(confidence, bins=edges, weights=confidence)
    return [
        {
            "low": round(float(edges[i]), 6),
            "high": round(float(edges[i + 1]), 6),
            "count": int(counts[i]),
            "confidence": float(confidence_sums[i] / counts[i]) if counts[i] else None,
            "accuracy": float(hits[i] / counts[i]) if counts[i] else None,
        }
        for i in range(bins)
    ]


def ece_of_bins(bins: list[dict]) -> float:
    """The expected calibration error of a reliability diagram: the count-weighted mean gap
    between each bin's accuracy and its mean confidence."""
    total = sum(b["count"] for b in bins)
    if not total:
        return float("nan")
    gaps = sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    return float(gaps / total)


def expected_calibration_error(probabilities, y, bins: int = CONFIDENCE_BINS) -> float:
    """The ECE of predicted probabilities, over `bins` equal-width confidence bins.

    Args:
        probabilities: shape (n, classes).
        y: the true class indices, shape (n,).
        bins: the number of bins over [0, 1].

    Returns:
        A number in [0, 1]; 0 is perfectly calibrated.
    """
    return ece_of_bins(reliability_bins(probabilities, y, bins))


def scale_probabilities(probabilities, temperature: float) -> np.ndarray:
    """softmax(log(p) / T): the probabilities at temperature T (T = 1 changes nothing).

    Args:
        probabilities: shape (n, classes).
        temperature: T > 0.

    Returns:
        The scaled probabilities, same shape and dtype.
    """
    probabilities = np.asarray(probabilities)
    logits = _logits(probabilities) / temperature
    # NumPy's softmax, not scipy.special's: importing that would add about 0.14 s
    # (measured) to the TensorFlow-free serving path's start-up, which runs this.
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(probabilities.dtype)


def _logits(probabilities) -> np.ndarray:
    """log(p) in float64, with p clipped to PROBABILITY_FLOOR (as the Keras layer does)."""
    return np.log(np.clip(np.asarray(probabilities, dtype="float64"), PROBABILITY_FLOOR, 1.0))


def negative_log_likelihood(probabilities, y, temperature: float = 1.0) -> float:
    """The mean negative log-likelihood of the true classes at temperature T."""
    from scipy.special import log_softmax

    log_probabilities = log_softmax(_logits(probabilities) / temperature, axis=-1)
    return float(-log_probabilities[np.arange(len(y)), np.asarray(y)].mean())


def fit_temperature(probabilities, y) -> float:
    """The temperature that minimises the negative log-likelihood of `y`.

    The search runs over log T (bounded Brent), where the NLL is smooth and T stays
    positive.

    Args:
        probabilities: the validation part's probabilities, shape (n, classes).
        y: its true class indices.

    Returns:
        T, within TEMPERATURE_BOUNDS.
    """
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(probabilities, y, float(np.exp(log_t))),
        bounds=np.log(TEMPERATURE_BOUNDS),
        method="bounded",
    )
    return float(np.exp(result.x))


def choose_temperature(validation, y_validation, test, y_test, fit: bool = True) -> dict:
    """Fit T on validation, keep it if it lowers the validation ECE, measure both on test.

    Args:
        validation: the unscaled model's validation probabilities, shape (n, classes).
        y_validation: the validation part's class indices.
        test: the unscaled model's test probabilities (only measured).
        y_test: the test part's class indices.
        fit: False records the measurements with no temperature (e.g. after a final refit,
            whose network has seen the validation part).

    Returns:
        The record stored as the metadata's `calibration`: `ece` and `bins` (test, as
        saved), `temperature` (1.0 if not applied), `applied`, `fitted_temperature`,
        `before` (test ECE and bins unscaled) and `validation` (ECE and NLL before/after).
    """
    fitted = fit_temperature(validation, y_validation) if fit else 1.0
    validation_after = scale_probabilities(validation, fitted)
    ece_before = expected_calibration_error(validation, y_validation)
    ece_after = expected_calibration_error(validation_after, y_validation)
    applied = bool(fit and ece_after < ece_before)
    temperature = fitted if applied else 1.0
    before_bins = reliability_bins(test, y_test)
    # Unscaled, the saved model is the one measured: not even the clipping is applied.
    after_bins = reliability_bins(
        scale_probabilities(test, temperature) if applied else test, y_test
    )
    return {
        "method": METHOD,
        "confidence_bins": CONFIDENCE_BINS,
        "applied": applied,
        "temperature": temperature,
        "fitted_temperature": fitted if fit else None,
        "ece": ece_of_bins(after_bins),
        "bins": after_bins,
        "before": {"ece": ece_of_bins(before_bins), "bins": before_bins},
        "validation": {
            "ece_before": ece_before,
            "ece_after": ece_after,
            "nll_before": negative_log_likelihood(validation, y_validation),
            "nll_after": negative_log_likelihood(validation, y_validation, fitted),
        },
    }
