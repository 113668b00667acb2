"""The predictor: a saved version loaded through a runtime, and batch scoring of CSV files.

`load_predictor` is the one answer to "what runs when I predict?": it reads the version's
files from the registry and picks the first serving runtime (pipeline/runtimes/) that the
version and the installed packages allow.
"""

import functools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.csvfile import (
    CSV_LINE_END,
    check_text_column,
    guess_text_column,
    iter_csv_chunks,
    neutralize_formulas,
)
from pipeline.errors import DataError, RegistryError
from pipeline.registry import Registry
from pipeline.runtimes.lite import LITE_FILE, load_lite_model
from pipeline.runtimes.numpy_model import NumpyFastText
from pipeline.runtimes.numpy_model import load_numpy_model as read_numpy_model
from pipeline.window import InputWindow, read_window

BATCH_SIZE = 1024
# Rows per progress step when scoring a frame: a few batches, so both threads have work.
PROGRESS_STEP = 4 * BATCH_SIZE


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="predict")


class Predictor:
    """Class probabilities for raw texts from one model version.

    Args:
        forward: maps a list of texts to probabilities, shape (n, len(labels)): a serving
            runtime's (pipeline/runtimes/).
        labels: the label order of the probability columns.
        metadata: the version's metadata, if it came from the registry.
        model_file: the version's `model.keras`, where its input window is read
            (pipeline.window) the first time `words_read` is asked.
    """

    def __init__(
        self,
        forward,
        labels: list[str],
        metadata: dict | None = None,
        model_file: str | os.PathLike | None = None,
    ):
        self.forward = forward
        self.labels: list[str] = list(labels)
        self.metadata: dict = metadata or {}
        self.version: str | None = self.metadata.get("version")
        self.model_file = model_file

    @functools.cached_property
    def window(self) -> InputWindow | None:
        """How much of a text the model reads (None for a model without its file)."""
        return read_window(self.model_file) if self.model_file else None

    def words_read(self, text: str) -> int | None:
        """How many of a text's leading words the model reads whole; None if not known.

        A model cuts a longer text at its input's limit (pipeline.window) without a word,
        so callers say so when this is less than the text's words.
        """
        return None if self.window is None else self.window.words_read(text)

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """Probabilities of every class for each text.

        Args:
            texts: raw texts (any strings).

        Returns:
            An array of shape (n, len(labels)); each row sums to 1.
        """
        texts = [str(text) for text in texts]
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        chunks = [texts[start : start + BATCH_SIZE] for start in range(0, len(texts), BATCH_SIZE)]
        if len(chunks) == 1:
            return self.forward(chunks[0])
        # Two chunks at a time: one thread's NumPy work (which frees the GIL) overlaps the
        # other's text cleaning. The forward functions are thread-safe (tested from 16).
        return np.concatenate(list(_pool().map(self.forward, chunks)))

    def predict(self, texts: Iterable[str]) -> list[dict]:
        """The label and every class's probability for each text.

        Args:
            texts: raw texts.

        Returns:
            One dict per text: {"label": str, "probabilities": {label: float}}.
        """
        probabilities = self.predict_proba(texts)
        return [
            {
                "label": self.labels[int(row.argmax())],
                "probabilities": {
                    label: float(p) for label, p in zip(self.labels, row, strict=True)
                },
            }
            for row in probabilities
        ]


def load_model(registry: Registry, version: str | None = None):
    """Load a version's Keras model with safe_mode on (no arbitrary code runs).

    Args:
        registry: the registry holding it.
        version: a version id, or None for the active one.

    Returns:
        The end-to-end keras.Model.
    """
    from pipeline.runtimes.keras_model import load_keras_model  # TensorFlow

    model_path = registry.model_file(version)
    try:
        return load_keras_model(model_path)
    except Exception as exc:  # any failure to load means the version is broken
        raise RegistryError(f"Model file {model_path} could not be loaded: {exc}") from exc


def load_numpy_model(registry: Registry, version: str | None = None) -> NumpyFastText | None:
    """Load a version for TensorFlow-free serving (see pipeline.runtimes.numpy_model).

    Args:
        registry: the registry holding it.
        version: a version id, or None for the active one.

    Returns:
        A NumpyFastText, or None when the version's architecture needs another runtime.
    """
    return read_numpy_model(registry.model_file(version))


def load_predictor(
    models_dir: str | os.PathLike | None = None,
    version: str | None = None,
    backend: str = "auto",
) -> Predictor:
    """Load a model version from the registry.

    Args:
        models_dir: the models folder; default $SENTIMENT_MODELS_DIR or models/.
        version: a version id; default the active version.
        backend: "numpy" runs a fasttext model without TensorFlow (see
            pipeline.runtimes.numpy_model); "lite" runs a transformer saved with a LiteRT
            copy without TensorFlow (see pipeline.runtimes.lite); "keras" always uses Keras
            (pipeline.runtimes.keras_model); "auto" picks the first of those the version and
            the installed packages allow.

    Returns:
        A ready Predictor.
    """
    registry = Registry(config.models_dir(models_dir))
    version = registry.resolve(version)
    metadata = registry.metadata(version)
    forward = None
    if backend in ("auto", "numpy"):
        numpy_model = load_numpy_model(registry, version)
        if numpy_model is None and backend == "numpy":
            raise RegistryError(f"Version {version} cannot run without TensorFlow.")
        forward = numpy_model and numpy_model.predict_proba
    if forward is None and backend in ("auto", "lite"):
        lite_model = _load_lite(registry, version)
        if lite_model is None and backend == "lite":
            raise RegistryError(
                f"Version {version} has no LiteRT copy, or ai-edge-litert is not installed."
            )
        forward = lite_model and lite_model.predict_proba
    if forward is None:
        from pipeline.runtimes.keras_model import serving_forward  # TensorFlow

        forward = serving_forward(load_model(registry, version))
    return Predictor(forward, metadata["labels"], metadata, registry.model_file(version))


def _load_lite(registry: Registry, version: str):
    lite_path = registry.version_file(version, LITE_FILE)
    return lite_path and load_lite_model(registry.model_file(version), lite_path)


def score_frame(
    predictor: Predictor,
    frame: pd.DataFrame,
    text_column: str,
    on_progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Add `predicted_label` and one `prob_<label>` column per class to a frame.

    Args:
        predictor: a loaded predictor.
        frame: the input rows.
        text_column: the column holding the texts.
        on_progress: called with the number of rows scored so far, after each batch.

    Returns:
        A copy of the frame with the prediction columns appended.
    """
    texts = frame[text_column].astype(str).tolist()
    parts = []
    for start in range(0, len(texts), PROGRESS_STEP):
        parts.append(predictor.predict_proba(texts[start : start + PROGRESS_STEP]))
        if on_progress:
            on_progress(min(start + PROGRESS_STEP, len(texts)))
    probabilities = np.concatenate(parts) if parts else np.zeros((0, len(predictor.labels)))
    scored = frame.copy()
    scored["predicted_label"] = [predictor.labels[i] for i in probabilities.argmax(axis=1)]
    for i, label in enumerate(predictor.labels):
        scored[f"prob_{label}"] = probabilities[:, i].round(6)
    return scored


def score_csv(
    predictor: Predictor,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    text_column: str | None = None,
    chunk_rows: int = 10_000,
    on_progress: Callable[[int, float], None] | None = None,
    on_guess: Callable[[str], None] | None = None,
    on_scored: Callable[[list[str], np.ndarray], None] | None = None,
) -> int:
    """Score a CSV file chunk by chunk and write the result; nothing partial is left behind.

    Args:
        predictor: a loaded predictor.
        input_path: the CSV to score.
        output_path: where to write the input columns plus the prediction columns.
        text_column: the column holding the texts; None guesses it from the first chunk
            (see `guess_text_column`). A numeric or empty column is refused either way.
        chunk_rows: rows held in memory at once.
        on_progress: called after each chunk with the rows scored so far and the share of
            the file read (from the file position, so it needs no counting pass).
        on_guess: called with the guessed column before any row is scored, so the caller
            can say which column it took.
        on_scored: called after each chunk with its texts and their probabilities (rows in
            `predictor.labels` order), e.g. to append them to the prediction log.

    Returns:
        The number of rows scored.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    name = input_path.name
    if not input_path.is_file():
        raise DataError(f"Input file not found: {input_path}.")
    if output_path.is_dir():
        raise DataError(f"The output {output_path} is a folder; give a file name.")
    if output_path.exists() and output_path.samefile(input_path):
        raise DataError(f"The output would overwrite the input {name}; give another file name.")
    temp = output_path.with_name(f".{output_path.name}.partial")
    rows = 0
    try:
        try:
            handle = open(temp, "w", encoding="utf-8", newline="")  # noqa: SIM115  closed below
        except OSError as exc:
            raise DataError(f"Cannot write {output_path}: {exc.strerror}.") from exc
        with handle:
            required = [] if text_column is None else [text_column]
            for chunk, share in iter_csv_chunks(input_path, chunk_rows, required, name):
                if chunk.empty:
                    continue  # a header without rows: refused below
                if rows == 0:
                    text_column = choose_text_column(chunk, text_column, name, on_guess)
                scored = score_frame(predictor, chunk, text_column)
                if on_scored:
                    columns = [f"prob_{label}" for label in predictor.labels]
                    on_scored(chunk[text_column].astype(str).tolist(), scored[columns].to_numpy())
                scored = neutralize_formulas(scored)
                scored.to_csv(handle, header=rows == 0, index=False, lineterminator=CSV_LINE_END)
                rows += len(chunk)
                if on_progress:
                    on_progress(rows, share)
        if rows == 0:
            raise DataError(f"{name} has a header but no rows to score.")
        os.replace(temp, output_path)
    finally:
        temp.unlink(missing_ok=True)
    return rows


def choose_text_column(
    chunk: pd.DataFrame, column: str | None, name: str, on_guess: Callable[[str], None] | None
) -> str:
    """The text column checked on the first chunk, or guessed from it (and announced);
    batch scoring on Ray (pipeline.batch_ray) chooses it the same way."""
    if column is not None:
        check_text_column(chunk, column, name)
        return column
    column = guess_text_column(chunk, name, config.DEFAULT_TEXT_COLUMN)
    if on_guess:
        on_guess(column)
    return column
