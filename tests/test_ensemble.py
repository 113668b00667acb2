"""The `minilm+fasttext` recipe: both members on one split, one saved model, their
geometric mean; on the tiny random encoder."""

import dataclasses
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import TINY_MINILM
from test_export import TEXTS
from test_numpy_model import sample_texts
from test_transformer import assert_export_agrees_without_the_project

from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.errors import TrainingCancelled
from pipeline.params import default_params, resolve_params
from pipeline.predict import load_model, load_predictor
from pipeline.registry import Registry
from pipeline.runtimes.keras_model import as_model_input

ENSEMBLE = {"architecture": "minilm+fasttext", **TINY_MINILM, "fasttext_weight": 0.4}
MANY_TEXTS = TEXTS + [f"text number {i} #tag{i} " * (i % 7) for i in range(150)]


@pytest.fixture(scope="module")
def ensemble_dir(tiny_encoder, tmp_path_factory):
    """A registry holding one int8 `minilm+fasttext` version, and its progress events."""
    from pipeline.train import train_and_save

    root = tmp_path_factory.mktemp("ensemble-models")
    events = []
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    train_and_save(data, resolve_params(ENSEMBLE), Registry(root), events.append)
    return root, events


def member_answers(model, texts):
    return [np.asarray(member(np.array(texts, dtype=object))) for member in model.members]


def test_saved_ensemble_is_the_weighted_geometric_mean_of_its_members(ensemble_dir):
    from pipeline.runtimes.geometric import combine

    root, _ = ensemble_dir
    model = load_model(Registry(root))  # safe_mode=True inside
    minilm, fasttext = model.members
    assert [type(m).__name__ for m in model.members] == ["TextClassifier", "Functional"]
    assert model.member_weights == pytest.approx([0.6, 0.4])
    direct = np.asarray(model(np.array(TEXTS, dtype=object)))
    answers = member_answers(model, TEXTS)
    np.testing.assert_allclose(direct, combine(answers, [0.6, 0.4], model.temperature), atol=1e-5)
    # Neither member alone gives the ensemble's probabilities.
    for answer in answers:
        assert np.abs(answer - direct).max() > 1e-3


def test_metadata_records_both_members(ensemble_dir):
    root, _ = ensemble_dir
    meta = Registry(root).metadata()
    assert meta["architecture"] == "minilm+fasttext"
    assert meta["encoder"]["name"] == "tiny random BERT (tests)"
    members = meta["members"]
    assert members["minilm"]["weight"] == pytest.approx(0.6)
    assert members["fasttext"]["weight"] == pytest.approx(0.4)
    assert members["fasttext"]["params"]["architecture"] == "fasttext"
    assert 1 <= members["fasttext"]["epochs_run"] <= default_params("fasttext").epochs
    assert meta["epochs_run"] == members["minilm"]["epochs_run"] == TINY_MINILM["epochs"]


def test_only_the_transformer_member_is_stored_in_int8(ensemble_dir):
    root, _ = ensemble_dir
    minilm, fasttext = load_model(Registry(root)).members
    dense_kernels = [w for w in minilm.network.weights if w.path.endswith("kernel")]
    assert dense_kernels and all(str(w.dtype) == "int8" for w in dense_kernels)
    assert all(str(w.dtype) == "float32" for w in fasttext.weights)


def test_the_transformer_member_stays_weights_only_int8_when_loaded(ensemble_dir):
    """int8 weights, float arithmetic: no int8 layer quantizes its inputs after loading,
    although keras-hub's backbone rebuilds its layers without their quantization config."""
    root, _ = ensemble_dir
    minilm, _ = load_model(Registry(root)).members
    int8_layers = [x for x in minilm.network._flatten_layers() if x.quantization_mode == "int8"]
    assert len(int8_layers) > 5 and minilm.float_activations
    assert all(getattr(x, "inputs_quantizer", None) is None for x in int8_layers)


@pytest.mark.parametrize("backend", ["lite", "keras"])
def test_serving_path_matches_the_saved_model_called_directly(ensemble_dir, backend):
    from pipeline.runtimes.lite import LitePair

    root, _ = ensemble_dir
    model = load_model(Registry(root))
    predictor = load_predictor(root, backend=backend)
    assert predictor.labels == Registry(root).metadata()["labels"]
    served_by = getattr(predictor.forward, "__self__", None)
    assert isinstance(served_by, LitePair) == (backend == "lite")
    direct = np.asarray(model(np.array(MANY_TEXTS, dtype=object)))
    np.testing.assert_allclose(predictor.predict_proba(MANY_TEXTS), direct, atol=1e-5)


def test_the_pair_keeps_a_lite_copy_and_serves_without_tensorflow(ensemble_dir):
    """The pair's LiteRT copy is its weights-only int8 transformer as it is, so it computes
    the Keras pair's function; served by default, in a process that never imports TF."""
    root, _ = ensemble_dir
    meta = Registry(root).metadata()
    assert "model.tflite" in meta["files"] and meta["lite"]["kept"]
    assert meta["lite"]["same_label"] == 1.0 and meta["lite"]["largest_difference"] < 1e-5
    script = f"""
import json, sys
from pipeline.predict import load_predictor
answers = load_predictor({str(root)!r}).predict_proba({MANY_TEXTS!r}).tolist()
print(json.dumps({{"tensorflow": "tensorflow" in sys.modules, "answers": answers}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=config.PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["tensorflow"] is False
    direct = np.asarray(load_model(Registry(root))(np.array(MANY_TEXTS, dtype=object)))
    np.testing.assert_allclose(outcome["answers"], direct, atol=1e-5)


def test_export_agrees_with_the_predictor_without_the_project(ensemble_dir, tmp_path):
    assert_export_agrees_without_the_project(ensemble_dir[0], tmp_path)


def test_progress_is_fasttext_as_one_phase_then_the_transformers_epochs(ensemble_dir):
    _, events = ensemble_dir
    kinds = [e["event"] for e in events]
    phase = kinds.index("training the fasttext member")
    assert "batch" in kinds and kinds.index("batch") > phase
    # Every batch and epoch reported is the transformer's: its epoch count, not fasttext's.
    assert {e["epochs"] for e in events if e["event"] in ("batch", "epoch")} == {
        TINY_MINILM["epochs"]
    }


def test_fasttext_member_keeps_its_own_settings_with_the_ensembles_seed():
    from pipeline.recipes.ensemble import member_params

    params = resolve_params({**ENSEMBLE, "seed": 7, "class_weighting": "balanced"})
    members = member_params(params)
    fasttext_defaults = default_params("fasttext")
    assert members["fasttext"] == dataclasses.replace(
        fasttext_defaults, seed=7, class_weighting="balanced"
    )
    assert members["minilm"].architecture == "minilm"
    assert members["minilm"].learning_rate == params.learning_rate
    assert members["minilm"].epochs == params.epochs


@pytest.mark.parametrize("stop_at", ["training the fasttext member", "batch"])
def test_cancel_in_either_member_saves_nothing(tiny_encoder, tmp_path, stop_at):
    from pipeline.train import train_and_save

    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    stop, seen = threading.Event(), []

    def report(event):
        seen.append(event["event"])
        if event["event"] == stop_at:
            stop.set()

    with pytest.raises(TrainingCancelled):
        train_and_save(data, resolve_params(ENSEMBLE), Registry(tmp_path), report, stop)
    assert Registry(tmp_path).versions() == []
    if stop_at == "batch":
        assert seen.count("batch") == 1  # stopped inside the transformer's first epoch
    else:
        assert "batch" not in seen  # the transformer never started


def test_fasttext_member_is_served_by_numpy_and_agrees_with_keras(ensemble_dir):
    from pipeline.runtimes.numpy_model import from_keras

    root, _ = ensemble_dir
    minilm, fasttext = load_model(Registry(root)).members
    assert from_keras(minilm) is None
    numpy_fasttext = from_keras(fasttext)
    texts = sample_texts()  # the sample rows and hostile ones (empty, huge, NUL, surrogates)
    keras_answer = np.asarray(fasttext(as_model_input(texts)))
    np.testing.assert_allclose(numpy_fasttext.predict_proba(texts), keras_answer, atol=1e-5)
    few = np.concatenate([numpy_fasttext.predict_proba(texts[i : i + 3]) for i in range(0, 30, 3)])
    np.testing.assert_allclose(few, keras_answer[:30], atol=1e-5)  # the small-batch path
