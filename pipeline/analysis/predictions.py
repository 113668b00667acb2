"""Each version's test-set predictions: text, true label, predicted label, every probability.

They are saved beside the model as `predictions.csv` when the version is trained, so the
error-analysis views read them and never run the model again. A version saved before they
were kept gets them once from its data (`compute_predictions`), into the local cache.
"""

import io
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.data import LabelledData, split_data
from pipeline.errors import DataError, RegistryError
from pipeline.predict import load_predictor
from pipeline.registry import Registry

PREDICTIONS_FILE = "predictions.csv"
# A CSV column of the training data, kept for slicing, is stored under this prefix.
COLUMN_PREFIX = "column:"


def prob_column(label: str) -> str:
    """The column holding one class's probability."""
    return f"prob_{label}"


def predictions_frame(test: pd.DataFrame, probabilities: np.ndarray, labels: list[str]):
    """One row per test text: text, label, predicted, confidence, prob_<label>..., columns.

    Args:
        test: the test part (`text`, `label`, and any slice columns of the data).
        probabilities: shape (rows, classes), in `labels` order.
        labels: the label order.

    Returns:
        A DataFrame.
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    frame = pd.DataFrame(
        {
            "text": test["text"].to_numpy(),
            "label": test["label"].to_numpy(),
            "predicted": np.asarray(labels, dtype=object)[probabilities.argmax(axis=1)],
            "confidence": probabilities.max(axis=1),
        }
    )
    for i, label in enumerate(labels):
        frame[prob_column(label)] = probabilities[:, i]
    for column in test.columns:
        if column not in ("text", "label"):
            frame[COLUMN_PREFIX + column] = test[column].to_numpy()
    return frame


def predictions_csv(test: pd.DataFrame, probabilities: np.ndarray, labels: list[str]) -> bytes:
    """`predictions_frame` as the bytes of predictions.csv."""
    return predictions_frame(test, probabilities, labels).to_csv(index=False).encode("utf-8")


def read_predictions(path: Path | bytes, labels: list[str]) -> pd.DataFrame:
    """Read a predictions.csv back: texts and labels as strings, probabilities as floats."""
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    for column in ["confidence", *map(prob_column, labels)]:
        frame[column] = frame[column].astype("float64")
    return frame


def cached_path(registry: Registry, version: str) -> Path:
    """Where predictions computed after the fact for a version are cached."""
    return config.cache_dir() / "analysis" / registry.work_dir.name / version / PREDICTIONS_FILE


def has_predictions(registry: Registry, version: str) -> bool:
    """Whether a version's test predictions are at hand: saved with it, or computed once."""
    if PREDICTIONS_FILE in registry.metadata(version).get("files", {}):
        return True
    return cached_path(registry, version).is_file()


def load_predictions(registry: Registry, version: str) -> pd.DataFrame | None:
    """A version's test-set predictions, or None when it has none yet.

    Args:
        registry: the registry.
        version: a version id.

    Returns:
        The predictions (see `predictions_frame`), saved with the version or computed once
        by `compute_predictions`; None for an older version whose data was not given yet.
    """
    metadata = registry.metadata(version)
    path = registry.version_file(version, PREDICTIONS_FILE)
    if path is None:
        path = cached_path(registry, version)
        if not path.is_file():
            return None
    try:
        return read_predictions(path, metadata["labels"])
    except (OSError, ValueError, KeyError) as exc:
        raise RegistryError(f"Version {version}'s {PREDICTIONS_FILE} is unreadable: {exc}") from exc


def compute_predictions(registry: Registry, version: str, data: LabelledData) -> pd.DataFrame:
    """Predict a version's test part once, for a version saved before predictions were kept.

    The data must be the very file the version was trained on (same SHA-256), so the split
    seed gives back the same test part.

    Args:
        registry: the registry.
        version: a version id.
        data: the version's training data.

    Returns:
        The predictions, also written to the cache.

    Raises:
        DataError: the data is not the version's.
    """
    metadata = registry.metadata(version)
    trained_on = metadata.get("data", {})
    if trained_on.get("sha256") != data.sha256:
        raise DataError(
            f"Version {version} was trained on {trained_on.get('name', 'another file')} "
            f"(SHA-256 {str(trained_on.get('sha256'))[:12]}…), not on {data.source} "
            f"({data.sha256[:12]}…). Give the file it was trained on."
        )
    test = split_data(data, seed=metadata["split"]["seed"]).test
    predictor = load_predictor(registry.root, version)
    frame = predictions_frame(test, predictor.predict_proba(test["text"]), metadata["labels"])
    path = cached_path(registry, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    frame.to_csv(temp, index=False)
    temp.replace(path)
    return frame
