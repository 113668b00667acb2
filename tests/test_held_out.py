"""One version scored on another's test part, and whether those texts were held out from it."""

import numpy as np
import pytest

from pipeline import config
from pipeline.analysis.corrections import DROP, write_corrected_copy
from pipeline.analysis.held_out import held_out_from
from pipeline.analysis.predictions import load_predictions
from pipeline.data import load_labelled_data, split_data
from pipeline.errors import DataError
from pipeline.evaluate import evaluate_predictions, evaluate_predictor
from pipeline.params import resolve_params
from pipeline.predict import load_predictor
from pipeline.registry import Registry
from pipeline.text import normalize_for_grouping
from pipeline.train import train_and_save
from tests.conftest import shipped_version

ONE_EPOCH = {"epochs": 1, "vocab_size": 2000, "embedding_dim": 16, "batch_size": 32}


def train(registry: Registry, data, **params) -> str:
    return train_and_save(data, resolve_params({**ONE_EPOCH, **params}), registry)["version"]


def distinct(frame) -> set[str]:
    return set(frame["text"].map(normalize_for_grouping))


@pytest.fixture(scope="module")
def sample():
    return load_labelled_data(config.SAMPLE_DATA_PATH)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return Registry(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def seed_42(registry, sample) -> str:
    """A version trained on data/sample.csv with the default split (seed 42)."""
    return train(registry, sample)


@pytest.fixture(autouse=True)
def corrected_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CORRECTED_DATA_DIR_ENV, str(tmp_path / "corrected"))


def test_the_same_data_and_split_held_out_the_test_texts(registry, sample, seed_42):
    other = train(registry, sample, epochs=2)
    verdict = held_out_from(registry, seed_42, other)
    assert verdict.held_out is True
    assert "same data (sample.csv) with the same split" in verdict.message


def test_another_split_of_the_same_data_counts_the_test_texts_it_trained_on(
    registry, sample, seed_42
):
    seed_7 = train(registry, sample, seed=7)
    split_42, split_7 = split_data(sample, 42), split_data(sample, 7)
    tested = distinct(split_42.test)
    seen = len(tested & (distinct(split_7.train) | distinct(split_7.validation)))
    assert seen > 0
    verdict = held_out_from(registry, seed_7, seed_42)
    assert verdict.held_out is False
    assert f"{seen} of these {len(tested)} distinct test texts were in its training" in (
        verdict.message
    )


def test_a_corrected_copy_of_its_data_is_not_held_out_either_way(registry, seed_42):
    copy = write_corrected_copy(config.SAMPLE_DATA_PATH, {0: DROP, 5: DROP})
    corrected = train(registry, load_labelled_data(copy.path))
    for trained, tested in ((seed_42, corrected), (corrected, seed_42)):
        verdict = held_out_from(registry, trained, tested)
        assert verdict.held_out is False
        assert "corrected copy" in verdict.message


def test_a_file_sharing_texts_with_its_data_may_have_been_trained_on(
    registry, sample, seed_42, tmp_path
):
    subset = tmp_path / "first-500.csv"
    subset.write_text(
        "".join(config.SAMPLE_DATA_PATH.read_text(encoding="utf-8").splitlines(True)[:501]),
        encoding="utf-8",
    )
    data = load_labelled_data(subset)
    shared = distinct(split_data(data, 42).test) & distinct(split_data(sample, 42).test)
    assert shared  # the two test parts have texts in common
    verdict = held_out_from(registry, seed_42, train(registry, data))
    assert verdict.held_out is False
    assert f"{len(shared)} of these test texts are in version {seed_42}'s own test part" in (
        verdict.message
    )


def test_other_data_cannot_be_told(registry, seed_42):
    shipped = shipped_version("fasttext")  # trained on Sentiment.csv; kept no predictions
    registry.copy_in(Registry(config.DEFAULT_MODELS_DIR), shipped)
    verdict = held_out_from(registry, shipped, seed_42)
    assert verdict.held_out is None
    assert "trained on other data (Sentiment.csv)" in verdict.message


def test_a_predictor_is_scored_in_the_given_label_order(registry, seed_42):
    test = load_predictions(registry, seed_42)
    predictor = load_predictor(registry.root, seed_42)
    reversed_labels = predictor.labels[::-1]
    metrics = evaluate_predictor(predictor, test["text"], test["label"].tolist(), reversed_labels)
    probabilities = predictor.predict_proba(test["text"])[:, ::-1]
    expected = evaluate_predictions(test["label"].tolist(), probabilities, reversed_labels)
    assert metrics == expected
    assert metrics["labels"] == reversed_labels
    # The saved figures are the same model on the same texts.
    assert np.isclose(metrics["macro_f1"], registry.metadata(seed_42)["metrics"]["macro_f1"])
    with pytest.raises(DataError, match="predicts negative, neutral, positive, not these"):
        evaluate_predictor(predictor, ["a", "b"], ["good", "bad"], ["bad", "good"])
