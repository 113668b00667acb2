"""The SavedModel export: `python -m pipeline export`, loaded back as TF Serving would."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import run_cli

from pipeline import config, export
from pipeline.errors import ExportError
from pipeline.export import SIGNATURE, export_saved_model
from pipeline.predict import load_predictor

TEXTS = [
    "WORST SHOW EVER",
    "What a great night for Rubio #GOPDebate",
    "RT @someone: Trump talked about the wall http://t.co/x",
    "",
    "Ünïcödé and emoji 😀 are fine",
    "word " * 300,
]


def assert_user_error(result, fragment):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


# Runs in a fresh interpreter outside the project, so neither `pipeline` nor its custom
# CleanText layer can be imported: the SavedModel must stand on its own.
LOAD_ELSEWHERE = """
import json, sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({
    "pipeline_imported": "pipeline" in sys.modules,
    "probabilities": out["probabilities"].numpy().tolist(),
    "label": [x.decode() for x in out["label"].numpy()],
}))
"""


@pytest.fixture(scope="module")
def exported(tiny_models_dir, tmp_path_factory):
    """The tiny model exported with the command line, into a TF Serving version folder."""
    out = tmp_path_factory.mktemp("serving") / "sentiment" / "1"
    result = run_cli(
        "-m", "pipeline", "export", "--out", str(out), models_dir=tiny_models_dir
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stdout
    return out


def test_export_signature_matches_the_predictor(exported, tiny_models_dir):
    from pipeline.backend import tf

    serve = tf.saved_model.load(str(exported)).signatures[SIGNATURE]
    out = serve(text=tf.constant(TEXTS))
    predictor = load_predictor(tiny_models_dir)
    expected = predictor.predict_proba(TEXTS)
    probabilities = out["probabilities"].numpy()
    assert probabilities.dtype == np.float32 and probabilities.shape == expected.shape
    np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=0)
    labels = [predictor.labels[i] for i in expected.argmax(axis=1)]
    assert [x.decode() for x in out["label"].numpy()] == labels
    assert out["labels"].numpy().shape == (len(TEXTS), len(predictor.labels))
    assert all([x.decode() for x in row] == predictor.labels for row in out["labels"].numpy())


def test_export_signature_has_the_shapes_tf_serving_needs(exported):
    from pipeline.backend import tf

    serve = tf.saved_model.load(str(exported)).signatures[SIGNATURE]
    (_, inputs) = serve.structured_input_signature
    assert list(inputs) == ["text"] and inputs["text"].dtype == tf.string
    assert inputs["text"].shape.as_list() == [None]
    outputs = serve.structured_outputs
    assert set(outputs) == {"probabilities", "label", "labels"}
    # The REST "instances" format needs the batch dimension first in every output.
    assert all(spec.shape.as_list()[0] is None for spec in outputs.values())
    assert outputs["probabilities"].dtype == tf.float32


def test_export_loads_in_a_process_without_the_project(exported, tiny_models_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", LOAD_ELSEWHERE, str(exported), json.dumps(TEXTS[:3])],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["pipeline_imported"] is False
    predictor = load_predictor(tiny_models_dir)
    np.testing.assert_allclose(
        answer["probabilities"], predictor.predict_proba(TEXTS[:3]), atol=1e-5, rtol=0
    )
    assert answer["label"] == [r["label"] for r in predictor.predict(TEXTS[:3])]


def test_export_refuses_a_folder_that_is_not_empty(exported, tiny_models_dir):
    before = sorted(p.name for p in exported.iterdir())
    result = run_cli("-m", "pipeline", "export", "--out", str(exported), models_dir=tiny_models_dir)
    assert_user_error(result, "is not empty")
    assert sorted(p.name for p in exported.iterdir()) == before


def test_export_of_an_unknown_version_is_a_user_error_and_writes_nothing(tiny_models_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "-m", "pipeline", "export", "--version", "nope", "--out", str(out),
        models_dir=tiny_models_dir,
    )  # fmt: skip
    assert_user_error(result, "Unknown model version 'nope'")
    assert list(tmp_path.iterdir()) == []


def test_export_fills_an_empty_folder(tiny_models_dir, tmp_path):
    out = tmp_path / "1"
    out.mkdir()
    assert export_saved_model(tiny_models_dir, None, out) == out
    assert (out / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["1"]  # no temporary folder left


def test_a_failed_export_leaves_nothing_behind(tiny_models_dir, tmp_path, monkeypatch):
    def fail_halfway(model, labels, path):
        path.mkdir()
        (path / "saved_model.pb").write_bytes(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(export, "_write_saved_model", fail_halfway)
    with pytest.raises(ExportError, match="No space left"):
        export_saved_model(tiny_models_dir, None, tmp_path / "serving" / "1")
    assert [p.name for p in (tmp_path / "serving").iterdir()] == []


def test_an_lstm_model_exports_too(tmp_path):
    # Keras serves lstm models (no NumPy path); their dropout layers carry seed state
    # that the export must track.
    from pipeline.backend import tf
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    models_dir = tmp_path / "models"
    params = {"architecture": "lstm", "epochs": 1, "vocab_size": 500, "embedding_dim": 8}
    params.update(units=8, sequence_length=16, batch_size=64)
    train_and_save(
        load_labelled_data(config.SAMPLE_DATA_PATH), resolve_params(params), Registry(models_dir)
    )
    out = export_saved_model(models_dir, None, tmp_path / "export")
    serve = tf.saved_model.load(str(out)).signatures[SIGNATURE]
    probabilities = serve(text=tf.constant(TEXTS))["probabilities"].numpy()
    expected = load_predictor(models_dir).predict_proba(TEXTS)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=0)


def test_export_refuses_a_file_as_target(tiny_models_dir, tmp_path):
    target = tmp_path / "model"
    target.write_text("keep me")
    with pytest.raises(ExportError, match="is a file"):
        export_saved_model(tiny_models_dir, None, target)
    assert target.read_text() == "keep me"


def test_export_help_is_listed():
    result = run_cli("-m", "pipeline", "export", "--help")
    assert result.returncode == 0
    assert "--out" in result.stdout and "--version" in result.stdout
    assert config.MODELS_DIR_ENV in result.stdout
