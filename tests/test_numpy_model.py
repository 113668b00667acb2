"""The TensorFlow-free serving path gives the Keras model's probabilities."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import shipped_version

from pipeline import config, load_predictor
from pipeline.data import load_labelled_data
from pipeline.errors import RegistryError
from pipeline.params import resolve_params
from pipeline.predict import load_numpy_model
from pipeline.registry import Registry
from pipeline.runtimes.numpy_model import SMALL_BATCH
from pipeline.train import train_and_save

HOSTILE = [
    "", "   ", "a", "ab", "x" * 5000, "\U0001f600\U0001f621", "caf\u00e9 \u202e\u200b", "nul\x00l",
    "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "RT @user: http://t.co/a\u2026",
    "lone \ud800 surrogate", "word " * 200_000, "http://" + "a" * 100_000,
]  # fmt: skip


def sample_texts() -> list[str]:
    return load_labelled_data(config.SAMPLE_DATA_PATH).frame["text"].tolist() + HOSTILE


def assert_parity(models_dir, version=None):
    texts = sample_texts()
    keras = load_predictor(models_dir, version, backend="keras").predict_proba(texts)
    fast = load_predictor(models_dir, version, backend="numpy")
    for probabilities in (
        fast.predict_proba(texts),  # the array path for many texts
        np.concatenate([fast.predict_proba(texts[i : i + 3]) for i in range(0, len(texts), 3)]),
    ):
        assert np.abs(probabilities - keras).max() <= 1e-5
        assert (probabilities.argmax(axis=1) == keras.argmax(axis=1)).all()
    assert SMALL_BATCH >= 3  # so the second pass really took the small-batch path


def test_shipped_model_numpy_matches_keras():
    assert_parity(config.DEFAULT_MODELS_DIR, shipped_version("fasttext"))


def test_freshly_trained_model_numpy_matches_keras(tiny_models_dir):
    assert_parity(tiny_models_dir)


def test_auto_backend_serves_without_importing_tensorflow():
    code = (
        "import sys; from pipeline import load_predictor; "
        f"p = load_predictor(version={shipped_version('fasttext')!r}); "
        "assert p.predict(['WORST SHOW EVER'])[0]['label'] == 'negative'; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'"
    )
    env_code = subprocess.run(
        [sys.executable, "-c", code], cwd=config.PROJECT_ROOT, capture_output=True, text=True
    )
    assert env_code.returncode == 0, env_code.stderr


def test_lstm_falls_back_to_keras(tmp_path):
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = {"architecture": "lstm", "epochs": 1, "units": 8, "embedding_dim": 8}
    train_and_save(data, resolve_params(params), Registry(tmp_path))
    assert load_numpy_model(Registry(tmp_path)) is None
    predictor = load_predictor(tmp_path)  # auto
    assert predictor.predict_proba(["fine"]).shape == (1, 3)
    with pytest.raises(RegistryError, match="cannot run without TensorFlow"):
        load_predictor(tmp_path, backend="numpy")
