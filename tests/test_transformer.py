"""The transformer recipes (`minilm`, `minilm-frozen`) on a tiny random encoder of the same
classes, plus one check of the real vendored MiniLM weights."""

import json
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest
from conftest import TINY_MINILM
from helpers import run_cli
from test_export import TEXTS  # the same texts the n-gram export is checked on

from pipeline import config
from pipeline.data import load_labelled_data, split_data
from pipeline.errors import ParameterError, TrainingCancelled
from pipeline.params import resolve_params
from pipeline.predict import load_model, load_predictor
from pipeline.registry import Registry
from pipeline.runtimes.keras_model import transformer_forward as serving_forward


@pytest.fixture(scope="module")
def sample_splits():
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    return data, split_data(data, seed=42)


def test_fine_tuned_version_loads_in_safe_mode_and_answers_raw_strings(tiny_minilm_dir):
    registry = Registry(tiny_minilm_dir)
    meta = registry.metadata()
    assert meta["architecture"] == "minilm"
    assert meta["encoder"]["name"] == "tiny random BERT (tests)"
    assert len(meta["encoder"]["weights_sha256"]) == 64
    assert meta["sequence_length_used"] % 16 == 0
    model = load_model(registry)  # safe_mode=True inside
    direct = np.asarray(model(np.array(TEXTS, dtype=object)))
    assert direct.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(direct.sum(axis=1), 1.0, rtol=1e-5)


def test_serving_path_matches_the_saved_model_called_directly(tiny_minilm_dir):
    model = load_model(Registry(tiny_minilm_dir))
    predictor = load_predictor(tiny_minilm_dir)
    texts = TEXTS + [f"text number {i} " * (i % 7) for i in range(150)]  # several batches
    direct = np.asarray(model(np.array(texts, dtype=object)))
    np.testing.assert_allclose(predictor.predict_proba(texts), direct, atol=1e-5)


def test_a_new_shape_answers_at_once_and_runs_compiled_once_ready(tiny_minilm_dir):
    model = load_model(Registry(tiny_minilm_dir))
    forward = serving_forward(model)
    texts = ["a short one", "and a rather longer text than that " * 3]
    first = forward(texts)  # no shape is compiled yet: the plain graph answers
    assert not forward.network.ready
    forward.network.wait()  # the background compilations of those shapes
    [(rows, length)] = forward.network.ready  # both texts fit one batch, cut to 16s
    assert rows == 2 and length % 16 == 0
    np.testing.assert_allclose(forward(texts), first, atol=1e-5)
    direct = np.asarray(model(np.array(texts, dtype=object)))
    np.testing.assert_allclose(first, direct, atol=1e-5)


def test_an_explanation_sized_batch_runs_padded_to_a_power_of_two_and_agrees(tiny_minilm_dir):
    model = load_model(Registry(tiny_minilm_dir))
    forward = serving_forward(model, compile_in_background=False)
    texts = [f"word {i} of a tweet" for i in range(17)]
    answers = forward(texts)
    assert {rows for rows, _ in forward.network.ready} == {32}
    direct = np.asarray(model(np.array(texts, dtype=object)))
    np.testing.assert_allclose(answers, direct, atol=1e-5)


def test_training_lowers_the_loss(tiny_minilm_dir):
    history = Registry(tiny_minilm_dir).metadata()["history"]
    assert history["loss"][-1] < history["loss"][0]


# A fresh interpreter with TensorFlow and TensorFlow Text only: neither keras-hub nor this
# project, as a TF Serving build with the Text ops would load it.
LOAD_ELSEWHERE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the WordPiece ops the tokenizer uses
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({
    "imported": sorted(m for m in ("pipeline", "keras_hub") if m in sys.modules),
    "probabilities": out["probabilities"].numpy().tolist(),
}))
"""


def assert_export_agrees_without_the_project(models_dir, tmp_path):
    """Export the active version, load it in a fresh interpreter outside the project, and
    compare its probabilities with the predictor's."""
    out = tmp_path / "serving" / "1"
    result = run_cli("-m", "pipeline", "export", "--out", str(out), models_dir=models_dir)
    assert result.returncode == 0, result.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_ELSEWHERE, str(out), json.dumps(TEXTS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    answer = json.loads(loaded.stdout.splitlines()[-1])
    assert answer["imported"] == []
    expected = load_predictor(models_dir).predict_proba(TEXTS)
    np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-5)


def test_export_agrees_with_the_predictor_without_the_project(tiny_minilm_dir, tmp_path):
    assert_export_agrees_without_the_project(tiny_minilm_dir, tmp_path)


def test_cancel_stops_mid_epoch_and_saves_nothing(tiny_encoder, tmp_path):
    from pipeline.train import train_and_save

    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = resolve_params({"architecture": "minilm", **TINY_MINILM, "batch_size": 8})
    stop, batches = threading.Event(), []

    def report(event):
        if event["event"] == "batch":
            batches.append((event["epoch"], event["batch"], event["steps"]))
            if event["batch"] == 3:
                stop.set()

    with pytest.raises(TrainingCancelled):
        train_and_save(data, params, Registry(tmp_path), report, stop)
    assert batches[-1][:2] == (1, 3) and batches[-1][2] > 3  # stopped inside epoch 1
    assert Registry(tmp_path).versions() == []


def test_frozen_recipe_computes_each_embedding_once(tiny_encoder, sample_splits):
    from pipeline.recipes import get_recipe

    data, splits = sample_splits
    params = resolve_params({"architecture": "minilm-frozen", "epochs": 3})
    recipe = get_recipe("minilm-frozen")
    runs = []
    for _ in range(2):
        events = []
        model, history, extras = recipe.fit(splits, data.labels, params, events.append)
        runs.append((events, model))
    embedded = [sum(e["event"] == "embedding" for e in events) for events, _ in runs]
    assert embedded[0] > 0 and embedded[1] == 0  # the second run read every one from cache
    assert extras["encoder_frozen"] is True
    first, second = (np.asarray(m(np.array(TEXTS, dtype=object))) for _, m in runs)
    np.testing.assert_allclose(first, second, atol=1e-5)  # same seed, same cached inputs


def test_frozen_recipe_keeps_the_encoder_weights(tiny_encoder, sample_splits):
    from pipeline.recipes import get_recipe
    from pipeline.recipes.encoder import load_encoder

    data, splits = sample_splits
    params = resolve_params({"architecture": "minilm-frozen", "epochs": 2})
    model, _, _ = get_recipe("minilm-frozen").fit(splits, data.labels, params)
    pretrained, _ = load_encoder()
    trained = model.network.get_layer("pooled_encoder").get_layer(pretrained.name)
    for before, after in zip(pretrained.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("token_embeddings", ["fixed", "train"])
def test_token_embeddings_param_decides_whether_the_table_trains(
    tiny_encoder, sample_splits, token_embeddings
):
    from pipeline.recipes import get_recipe
    from pipeline.recipes.encoder import load_encoder

    data, splits = sample_splits
    params = resolve_params(
        {
            "architecture": "minilm",
            "epochs": 1,
            "quantize": "none",
            "token_embeddings": token_embeddings,
        }
    )
    model, _, _ = get_recipe("minilm").fit(splits, data.labels, params)
    pretrained, _ = load_encoder()
    trained = model.network.get_layer("pooled_encoder").get_layer(pretrained.name)
    table_kept = np.array_equal(
        pretrained.token_embedding.get_weights()[0], trained.token_embedding.get_weights()[0]
    )
    assert table_kept == (token_embeddings == "fixed")
    moved = [
        not np.array_equal(before, after)
        for before, after in zip(pretrained.get_weights(), trained.get_weights(), strict=True)
    ]
    assert sum(moved) > len(moved) // 2  # the transformer layers were fine-tuned
    assert trained.token_embedding.trainable  # the saved model is as trainable as before
    # What only fitting needs (the optimizer's two copies of every weight) is let go.
    assert getattr(model.network, "optimizer", None) is None
    assert getattr(model.network, "train_function", None) is None


def test_int8_version_is_smaller_and_close(tiny_minilm_dir, tmp_path):
    """The same training as `tiny_minilm_dir`'s float version (same seed and rows), stored
    in int8: smaller, and its probabilities close to the float version's."""
    from pipeline.train import train_and_save

    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = {"architecture": "minilm", **TINY_MINILM, "quantize": "int8", "lite_copy": "no"}
    train_and_save(data, resolve_params(params), Registry(tmp_path))
    sizes, predictions = {}, {}
    for mode, root in (("none", tiny_minilm_dir), ("int8", tmp_path)):
        registry = Registry(root)
        with zipfile.ZipFile(root / registry.active_version() / "model.keras") as archive:
            sizes[mode] = archive.getinfo("model.weights.h5").file_size
        predictions[mode] = load_predictor(root).predict_proba(TEXTS)
        dtypes = {w.dtype for w in load_model(registry).network.weights}
        assert ("int8" in dtypes) == (mode == "int8")
        assert ("before_quantization" in registry.metadata()) == (mode == "int8")
    assert sizes["int8"] < sizes["none"]  # a quarter for MiniLM; here HDF5 overhead dominates
    assert np.abs(predictions["int8"] - predictions["none"]).max() < 0.05


def test_sequence_length_follows_the_token_lengths(tiny_encoder):
    from pipeline.recipes.encoder import choose_sequence_length, load_encoder

    _, tokenizer = load_encoder()
    short = ["good night"] * 99 + ["bad " * 40]
    assert choose_sequence_length(short, tokenizer, cap=128) == 16  # 99% fit in 16
    long = ["bad " * 40] * 50
    assert choose_sequence_length(long, tokenizer, cap=128) == 48  # 42 tokens, rounded up
    assert choose_sequence_length(long, tokenizer, cap=32) == 32  # never above the cap


def test_length_batches_cover_every_row_once_in_similar_lengths():
    from pipeline.recipes.encoder import length_batches

    lengths = np.random.default_rng(0).integers(3, 60, size=1000)
    for rng in (None, np.random.default_rng(1)):
        batches = length_batches(lengths, 32, rng)
        assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = [np.ptp(lengths[b]) for b in length_batches(lengths, 32, None)]
    assert max(spread) <= 3  # sorted by length: each batch holds nearly equal lengths


def test_sequence_length_above_the_encoders_positions_is_refused(tiny_encoder, sample_splits):
    from pipeline.recipes import get_recipe

    data, splits = sample_splits
    params = resolve_params({"architecture": "minilm", "sequence_length": 600})
    with pytest.raises(ParameterError, match="at most 512"):
        get_recipe("minilm").fit(splits, data.labels, params)


def test_a_missing_encoder_gives_a_clear_message(monkeypatch, tmp_path, sample_splits):
    from pipeline.recipes import get_recipe
    from pipeline.recipes.encoder import encoder_info

    monkeypatch.setenv(config.ENCODER_DIR_ENV, str(tmp_path / "nowhere"))
    encoder_info.cache_clear()
    data, splits = sample_splits
    with pytest.raises(ParameterError, match="pretrained encoder is missing"):
        get_recipe("minilm").fit(splits, data.labels, resolve_params({"architecture": "minilm"}))


# Computed by sentence-transformers 6.2.0 (PyTorch 2.13, transformers 5.24) from the original
# fp32 safetensors of all-MiniLM-L6-v2, on the lower-cased probe texts: the first 4 numbers
# of each unit-length sentence embedding.
SENTENCE_TRANSFORMERS_REFERENCE = [
    [-0.01765, 0.04606, 0.04511, 0.00633],
    [0.02158, 0.11591, -0.02410, 0.02615],
    [0.01433, 0.00859, -0.05105, -0.04461],
]


def test_vendored_minilm_gives_sentence_transformers_embeddings(monkeypatch):
    weights = config.DEFAULT_ENCODER_DIR / "model.weights.h5"
    if not weights.is_file():
        pytest.skip(f"the vendored MiniLM weights are absent ({weights})")
    from pipeline.recipes.encoder import PROBE_TEXTS, load_encoder, sentence_embeddings

    monkeypatch.delenv(config.ENCODER_DIR_ENV, raising=False)
    backbone, tokenizer = load_encoder(config.DEFAULT_ENCODER_DIR)
    assert backbone.count_params() == 22_713_216
    embeddings = sentence_embeddings(backbone, tokenizer, PROBE_TEXTS)
    np.testing.assert_allclose(embeddings[:, :4], SENTENCE_TRANSFORMERS_REFERENCE, atol=1e-3)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] < similarity[1, 2]  # two debate sentences beat love vs worst


def test_compiled_shapes_are_capped(tiny_minilm_dir, monkeypatch):
    monkeypatch.setattr("pipeline.runtimes.keras_model.MAX_COMPILED_SHAPES", 2)
    model = load_model(Registry(tiny_minilm_dir))
    forward = serving_forward(model)
    texts = ["one", "two words here", "three " * 20, "four " * 40]
    answers = [forward([text] * rows) for text in texts for rows in (1, 3)]
    forward.network.wait()
    assert len(forward.network.ready) == 2  # the others keep the plain graph
    again = [forward([text] * rows) for text in texts for rows in (1, 3)]
    for first, second in zip(answers, again, strict=True):
        np.testing.assert_allclose(first, second, atol=1e-5)


def test_a_plain_graph_forward_compiles_nothing_and_agrees(tiny_minilm_dir):
    model = load_model(Registry(tiny_minilm_dir))
    plain = serving_forward(model, compile_in_background=False, max_compiled=0)
    compiled = serving_forward(model, compile_in_background=False)
    texts = ["one", "two words here", "three " * 20]
    np.testing.assert_allclose(plain(texts), compiled(texts), atol=1e-5)
    assert not plain.network.ready and compiled.network.ready


def test_minilm_keeps_the_averaged_weights_validation_chose(tiny_encoder, sample_splits):
    """With layer decay and weight averaging on, the model returned is the one whose
    validation loss early stopping kept (the average, not the last step's weights)."""
    from pipeline.recipes import get_recipe
    from pipeline.recipes.fitting import encode_labels

    data, splits = sample_splits
    params = resolve_params(
        {"architecture": "minilm", "epochs": 3, "patience": 3, "quantize": "none",
         "learning_rate": 0.001, "layer_decay": 0.8, "ema_momentum": 0.98,
         "class_weighting": "none"}
    )  # fmt: skip
    model, history, _ = get_recipe("minilm").fit(splits, data.labels, params)
    assert history["loss"][-1] < history["loss"][0]
    texts = np.array(splits.validation["text"].tolist())
    probabilities = np.asarray(model(texts))
    y = encode_labels(data.labels, splits.validation["label"])
    loss = float(np.mean(-np.log(probabilities[np.arange(len(y)), y])))
    assert loss == pytest.approx(min(history["val_loss"]), rel=1e-4)
