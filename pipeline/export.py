"""Export a model version as a TensorFlow SavedModel that TF Serving can load.

The export traces the end-to-end Keras model (cleaning, vectorizer, network, and the
temperature scaling when the version keeps one) into a graph of standard TensorFlow ops, so
loading it needs only TensorFlow, not this package: the custom CleanText layer becomes
a code-point lookup (its emoji table) and regex ops in the graph, TemperatureScaling a log
and a softmax.

Its `serving_default` signature takes raw strings, `text` of shape [n], and returns
`probabilities` (float32 [n, k]), `label` (string [n]) and `labels` (string [n, k], the
class names in column order). Every output has the batch dimension first, as TF Serving's
REST "instances" format requires.
"""

import os
import secrets
import shutil
from pathlib import Path

from pipeline import config
from pipeline.errors import ExportError
from pipeline.predict import load_model
from pipeline.registry import Registry

SIGNATURE = "serving_default"


def _write_saved_model(model, labels: list[str], path: Path) -> None:
    """Trace the model behind a `serving_default` signature and write it to `path`."""
    from pipeline.backend import keras, tf

    def serve(text):
        probabilities = model(text, training=False)
        names = tf.constant(labels)
        return {
            "probabilities": probabilities,
            "label": tf.gather(names, tf.argmax(probabilities, axis=1)),
            "labels": tf.tile(names[tf.newaxis, :], [tf.shape(text)[0], 1]),
        }

    # Keras's ExportArchive tracks every variable and lookup table the model uses (the
    # dropout layers' seed state too, which a bare tf.Module misses for an lstm).
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SIGNATURE, serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    archive.write_out(str(path), verbose=False)


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file; give a folder for the export.")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ExportError(
            f"{out_dir} is not empty; give a new or empty folder (nothing is overwritten)."
        )


def export_saved_model(
    models_dir: str | os.PathLike | None,
    version: str | None,
    out_dir: str | os.PathLike,
) -> Path:
    """Write a version as a SavedModel, all or nothing.

    It is written to a hidden folder beside `out_dir` and renamed into place, so a failure
    leaves no half-written export.

    Args:
        models_dir: the models folder; None for $SENTIMENT_MODELS_DIR or models/.
        version: a version id; None for the active one.
        out_dir: a new or empty folder, e.g. serving/sentiment/1 for TF Serving.

    Returns:
        The export folder.
    """
    out_dir = Path(out_dir)
    _check_target(out_dir)
    registry = Registry(config.models_dir(models_dir))
    version = registry.resolve(version)
    labels = registry.metadata(version)["labels"]
    model = load_model(registry, version)
    temp = out_dir.with_name(f".{out_dir.name}.tmp-{secrets.token_hex(4)}")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        _write_saved_model(model, labels, temp)
        _check_target(out_dir)  # again: something may have appeared there meanwhile
        os.replace(temp, out_dir)  # an empty folder in the way is replaced atomically
    except OSError as exc:
        raise ExportError(f"Could not write the export to {out_dir}: {exc}") from exc
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return out_dir
