"""Saved versions keep loading and answering as they did before the serving runtimes moved
to pipeline/runtimes/ (the registered Keras class names are what a file refers to).

tests/data/old_versions/ holds one small version of every recipe, saved by the code before
the move, with what each of its serving paths answered then (expected.json);
tests/data/shipped_answers.json holds what that code answered for the shipped versions, by
their model file's SHA-256 (a shipped version replaced since is checked path against path).
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.errors import RegistryError
from pipeline.params import architectures
from pipeline.predict import load_predictor
from pipeline.registry import Registry

DATA = Path(__file__).parent / "data"
OLD = json.loads((DATA / "old_versions" / "expected.json").read_text(encoding="utf-8"))
SHIPPED = json.loads((DATA / "shipped_answers.json").read_text(encoding="utf-8"))
TEXTS = OLD["texts"]
CASES = [(v, backend) for v, entry in OLD["versions"].items() for backend in entry["answers"]]


@pytest.fixture(scope="module")
def old_versions(tmp_path_factory) -> Path:
    """A copy, so that loading may write its locks and caches."""
    root = tmp_path_factory.mktemp("old") / "models"
    shutil.copytree(DATA / "old_versions", root, ignore=shutil.ignore_patterns("*.json"))
    for version in OLD["versions"]:
        shutil.copy(DATA / "old_versions" / version / "metadata.json", root / version)
    return root


def test_there_is_an_old_version_of_every_built_in_recipe():
    saved = {entry["architecture"] for entry in OLD["versions"].values()}
    assert saved == set(architectures())


@pytest.mark.parametrize(("version", "backend"), CASES)
def test_an_old_version_answers_through_each_path_as_it_did(old_versions, version, backend):
    entry = OLD["versions"][version]
    predictor = load_predictor(old_versions, version, backend=backend)
    assert predictor.labels == entry["labels"]
    np.testing.assert_allclose(
        predictor.predict_proba(TEXTS), entry["answers"][backend], rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("version", Registry(config.DEFAULT_MODELS_DIR).versions())
def test_a_shipped_version_answers_as_it_did_through_every_path(version):
    registry = Registry(config.DEFAULT_MODELS_DIR)
    sha = hashlib.sha256(registry.model_file(version).read_bytes()).hexdigest()
    recorded = SHIPPED["by_model_sha256"].get(sha)
    answers = {}
    for backend in ("numpy", "lite", "keras"):
        try:
            predictor = load_predictor(config.DEFAULT_MODELS_DIR, version, backend=backend)
        except RegistryError:  # a path this version does not offer
            if recorded is not None:
                assert backend not in recorded["answers"], (version, backend)
            continue
        answers[backend] = predictor.predict_proba(TEXTS)
    assert "keras" in answers and len(answers) >= 2  # Keras and a TensorFlow-free path
    for backend, probabilities in answers.items():
        if recorded is not None:  # the same file as when recorded: the same answers
            np.testing.assert_allclose(
                probabilities, recorded["answers"][backend], rtol=0, atol=1e-5
            )
        # Every path agrees with the Keras model (tolerance as in test_lite.py).
        np.testing.assert_allclose(probabilities, answers["keras"], rtol=0, atol=1e-4)
