"""Evaluate a version on any labelled CSV, in the way of `mlflow.evaluate`, and keep it.

A version's own test predictions (predictions.csv, saved at training) may be missing: the
shipped versions leave them out, because the GOP texts may not be committed. An
evaluation scores a version on a labelled CSV (data/sample.csv, an upload, a corrected
copy, the Kaggle file once placed) and keeps the result beside the version in the
registry (Registry.save_evaluation), labelled with the data it used: the predictions (the
columns of predictions.csv), the metrics, the reliability diagram's bins, the behavioural
checks, and the file's name, SHA-256, rows and columns. A version can hold several.

The Models tab's calibration and error-analysis views show any of them, or the test part
(`prediction_sources`, `load_source_predictions`).

An evaluation asks less of the data than training does: at least one row with a text and
a label, and only labels the version knows. Nothing is split, so one class is enough and
no class needs a minimum of rows (a file of complaints still tells how many the model
catches). The row cap is training's (config.MAX_TRAINING_ROWS).
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.analysis.behaviour import run_behaviour_checks
from pipeline.analysis.predictions import (
    PREDICTIONS_FILE,
    has_predictions,
    load_predictions,
    predictions_csv,
    read_predictions,
)
from pipeline.calibration import CONFIDENCE_BINS, ece_of_bins, encode, reliability_bins
from pipeline.csvfile import CsvSource, check_text_column, guess_text_column, read_csv
from pipeline.data import LabelledData, labelled_data
from pipeline.errors import DataError, RegistryError
from pipeline.evaluate import evaluate_predictions
from pipeline.predict import load_predictor
from pipeline.registry import Registry
from pipeline.wording import plural

# The key of the test predictions saved at training, among a version's prediction sources.
TEST_PART = "test"
# Texts scored per progress report.
PROGRESS_ROWS = 256


@dataclass(frozen=True)
class PredictionSource:
    """Predictions the views can show: the test part saved at training, or an evaluation.

    Attributes:
        key: TEST_PART or an evaluation id.
        title: how a chooser lists it (the data, rows, date, what it is).
        name: how captions call its texts' whole ("the test part", "data/sample.csv").
        labels: the classes macro-F1 averages over (those the data has).
        about: a sentence on the data: what it is, its SHA-256 and columns.
    """

    key: str
    title: str
    name: str
    labels: tuple[str, ...]
    about: str


def read_evaluation_data(
    source: CsvSource,
    text_column: str | None = None,
    label_column: str = config.DEFAULT_LABEL_COLUMN,
    name: str | None = None,
    max_rows: int = config.MAX_TRAINING_ROWS,
) -> tuple[LabelledData, bool]:
    """Read and validate a labelled CSV to evaluate on (see the module's docstring).

    Args:
        source: a path, or the bytes of an upload.
        text_column: the column of texts; None guesses it (pipeline.csvfile.guess_text_column).
        label_column: the column of labels.
        name: how to call the source (an upload's file name); default the file's name.
        max_rows: the most rows accepted.

    Returns:
        The data, and whether its text column was guessed.
    """
    frame, name, sha256 = read_csv(source, max_rows=max_rows, name=name)
    if len(frame) > max_rows:
        raise DataError(
            f"{name} has more than {max_rows:,} rows, the cap for data to evaluate on. "
            "Use a smaller sample of it."
        )
    guessed = not text_column
    if guessed:
        others = frame.drop(columns=[label_column], errors="ignore")
        text_column = guess_text_column(others, name, preferred=config.DEFAULT_TEXT_COLUMN)
    else:
        check_text_column(frame, text_column, name)
    data = labelled_data(frame, name, sha256, text_column, label_column, 1, 1)
    return data, guessed


def check_labels(data: LabelledData, labels: list[str], version: str) -> None:
    """Refuse data with labels the version does not know, naming them and its own.

    Raises:
        DataError: some rows have a label outside `labels`.
    """
    unknown = [label for label in data.labels if label not in labels]
    if unknown:
        counts = data.frame["label"].value_counts()
        listed = ", ".join(f"{label!r} ({plural(counts[label], 'row')})" for label in unknown)
        raise DataError(
            f"{data.source} has labels that version {version} does not know in column "
            f"{data.label_column!r}: {listed}. The version's labels: {', '.join(labels)}. "
            "Relabel or drop those rows, or choose the column that holds these labels."
        )


def display_path(source: CsvSource, name: str) -> str:
    """A file inside the project as "data/sample.csv"; any other file or an upload by name."""
    if isinstance(source, bytes):
        return name
    path = Path(source).resolve()
    if path.is_relative_to(config.PROJECT_ROOT):
        return path.relative_to(config.PROJECT_ROOT).as_posix()
    return name


def sample_sha256() -> str | None:
    """The SHA-256 of the bundled data/sample.csv, or None without it."""
    path = config.SAMPLE_DATA_PATH
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def about_data(data: LabelledData, trained_on: dict) -> str:
    """What the data is to the version, said so no one mistakes it for the test part."""
    if data.sha256 == trained_on.get("sha256"):
        return (
            "the very file this version was trained on: its training rows are in it, so "
            "the scores flatter the version"
        )
    if data.sha256 == sample_sha256():
        return (
            f"the bundled sample of {plural(len(data.frame), 'tweet')} written for this "
            "project, not the version's test part"
        )
    return "not the version's test part"


def score(y_true: list[str], probabilities: np.ndarray, labels: list[str], present: list[str]):
    """evaluate_predictions, with macro-F1 averaged over the classes the data has: a class
    it lacks has no F1 to speak of (scikit-learn would count it as 0)."""
    metrics = evaluate_predictions(y_true, probabilities, labels)
    metrics["macro_f1"] = float(np.mean([metrics["per_class"][c]["f1"] for c in present]))
    metrics["macro_f1_labels"] = list(present)
    return metrics


def predict_in_steps(predictor, texts: list[str], on_progress=None) -> np.ndarray:
    """The predictor's probabilities, reporting (texts done, total) after each step."""
    parts = []
    for start in range(0, len(texts), PROGRESS_ROWS):
        parts.append(predictor.predict_proba(texts[start : start + PROGRESS_ROWS]))
        if on_progress:
            on_progress(min(start + PROGRESS_ROWS, len(texts)), len(texts))
    return np.concatenate(parts)


def evaluate_version(
    registry: Registry,
    version: str | None,
    source: CsvSource,
    text_column: str | None = None,
    label_column: str = config.DEFAULT_LABEL_COLUMN,
    name: str | None = None,
    predictor=None,
    on_progress=None,
    command: str | None = None,
) -> dict:
    """Score a version on a labelled CSV and keep the evaluation beside it.

    Args:
        registry: the registry holding the version; the evaluation is stored there.
        version: a version id, or None for the active one.
        source: a path, or an upload's bytes.
        text_column: the column of texts; None guesses it (the record says so).
        label_column: the column of labels.
        name: an upload's file name.
        predictor: the version's loaded Predictor, if the caller holds one.
        on_progress: called with (texts scored, total) as scoring goes.
        command: the command line that redoes this evaluation, recorded as `reproduce`.

    Returns:
        The stored record: `evaluation` (its id), `version`, `created`, `data` (name,
        path, about, SHA-256, columns, rows, labels), `metrics`, `calibration` (ECE and
        bins), `behaviour`, `files`.

    Raises:
        DataError: the file cannot be read, lacks a column, or has labels the version does
            not know.
    """
    version = registry.resolve(version)
    metadata = registry.metadata(version)
    labels = metadata["labels"]
    data, guessed = read_evaluation_data(source, text_column, label_column, name)
    check_labels(data, labels, version)
    if predictor is None:
        predictor = load_predictor(registry.root, version)
    elif predictor.version != version or list(predictor.labels) != labels:
        raise ValueError(f"the predictor is not version {version}'s")
    probabilities = predict_in_steps(predictor, data.frame["text"].tolist(), on_progress)
    y_true = data.frame["label"].tolist()
    bins = reliability_bins(probabilities, encode(y_true, labels))
    record = {
        "data": {
            **data.describe(),
            "path": display_path(source, data.source),
            "about": about_data(data, metadata.get("data", {})),
            "labels": data.labels,
            "text_column_guessed": guessed,
        },
        "metrics": score(y_true, probabilities, labels, data.labels),
        "calibration": {"confidence_bins": CONFIDENCE_BINS, "ece": ece_of_bins(bins), "bins": bins},
        "behaviour": run_behaviour_checks(predictor),
        "reproduce": command,
    }
    files = {PREDICTIONS_FILE: predictions_csv(data.frame, probabilities, labels)}
    return registry.evaluation(version, registry.save_evaluation(version, record, files))


def load_evaluation_predictions(registry: Registry, version: str, evaluation: str):
    """An evaluation's predictions (the columns of pipeline.analysis.predictions)."""
    path = registry.evaluation_file(version, evaluation, PREDICTIONS_FILE)
    try:
        return read_predictions(path, registry.metadata(version)["labels"])
    except (OSError, ValueError, KeyError) as exc:
        raise RegistryError(
            f"Evaluation {evaluation} of version {version} has unreadable predictions: {exc}"
        ) from exc


def evaluation_title(record: dict) -> str:
    """How an evaluation is listed: its data, rows and date, and what that data is."""
    data = record["data"]
    when = record["created"][:16].replace("T", " ")
    shown = data.get("path") or data["name"]
    return f"{shown} ({plural(data['rows_used'], 'row')}, {when} UTC) — {data['about']}"


def evaluation_about(record: dict) -> str:
    """One sentence on an evaluation's data: what it is, its checksum, columns and rows."""
    data = record["data"]
    guessed = " (guessed)" if data.get("text_column_guessed") else ""
    dropped = data["rows_read"] - data["rows_used"]
    left_out = f", {plural(dropped, 'row')} without a text or label left out" if dropped else ""
    return (
        f"{data.get('path') or data['name']}: {data['about']}. SHA-256 {data['sha256'][:12]}…, "
        f"text column {data['text_column']!r}{guessed}, label column "
        f"{data['label_column']!r}, {plural(data['rows_used'], 'row')}{left_out}; evaluated "
        f"{record['created'][:16].replace('T', ' ')} UTC."
    )


def test_part_source(metadata: dict) -> PredictionSource:
    """The test predictions saved at training, as a prediction source."""
    rows = metadata.get("split", {}).get("sizes", {}).get("test")
    of = f"{plural(rows, 'row')} of " if rows else ""
    name = metadata.get("data", {}).get("name", "its data")
    return PredictionSource(
        key=TEST_PART,
        title=f"test part saved at training ({of}{name})",
        name="the test part",
        labels=tuple(metadata["labels"]),
        about=f"The version's held-out test part ({of}{name}), predicted when it was saved.",
    )


def evaluation_source(record: dict) -> PredictionSource:
    """A stored evaluation, as a prediction source."""
    data = record["data"]
    return PredictionSource(
        key=record["evaluation"],
        title=evaluation_title(record),
        name=data.get("path") or data["name"],
        labels=tuple(data["labels"]),
        about=evaluation_about(record),
    )


def prediction_sources(registry: Registry, version: str) -> list[PredictionSource]:
    """What the views can show for a version: its test part if at hand, then each stored
    evaluation, newest first."""
    sources = [evaluation_source(record) for record in registry.evaluations(version)]
    if has_predictions(registry, version):
        sources.insert(0, test_part_source(registry.metadata(version)))
    return sources


def load_source_predictions(registry: Registry, version: str, key: str) -> pd.DataFrame | None:
    """The predictions of one source: the test part (None when not at hand) or an
    evaluation."""
    if key == TEST_PART:
        return load_predictions(registry, version)
    return load_evaluation_predictions(registry, version, key)


def recorded_behaviour(registry: Registry, version: str) -> tuple[dict | None, str]:
    """A version's behavioural checks as recorded: at training, else with its newest
    evaluation that ran them.

    Returns:
        (the checks or None, when they were run: "at training" or "evaluated <date>").
    """
    behaviour = registry.metadata(version).get("behaviour")
    if behaviour:
        return behaviour, "at training"
    for record in registry.evaluations(version):
        if record.get("behaviour"):
            return record["behaviour"], f"evaluated {record['created'][:10]}"
    return None, ""
