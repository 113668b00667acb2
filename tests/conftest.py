"""Shared fixtures: the bundled sample data, the optional Kaggle file, a tiny trained model."""

import os
from pathlib import Path

import pytest

from pipeline import config

FULL_DATA_CANDIDATES = (
    config.KAGGLE_DATA_PATH,
    config.PROJECT_ROOT.parent / "shared" / "data" / "Sentiment.csv",
)
TINY_PARAMS = {"epochs": 4, "vocab_size": 2000, "embedding_dim": 16, "batch_size": 32}


def find_full_data() -> Path | None:
    """The Kaggle Sentiment.csv in data/ or ../shared/data/, if either is there."""
    return next((p for p in FULL_DATA_CANDIDATES if p.is_file()), None)


@pytest.fixture
def sample_csv() -> Path:
    return config.SAMPLE_DATA_PATH


@pytest.fixture(scope="session")
def full_data() -> Path:
    path = find_full_data()
    if path is None:
        pytest.skip(
            "needs the Kaggle Sentiment.csv in data/ (see data/README.md) or ../shared/data/"
        )
    return path


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    """A registry holding one small model trained on data/sample.csv (a few seconds)."""
    from pipeline.data import load_labelled_data
    from pipeline.params import resolve_params
    from pipeline.registry import Registry
    from pipeline.train import train_and_save

    root = tmp_path_factory.mktemp("models")
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    train_and_save(data, resolve_params(TINY_PARAMS), Registry(root))
    return root


@pytest.fixture
def clean_env(monkeypatch):
    """No inherited SENTIMENT_MODELS_DIR, so tests choose their models folder."""
    monkeypatch.delenv(config.MODELS_DIR_ENV, raising=False)
    return os.environ
