"""The LiteRT serving path of transformer versions: tokenizer, agreement, no TensorFlow."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import TINY_MINILM
from test_hostile_input import HOSTILE

from pipeline import config
from pipeline.data import load_labelled_data
from pipeline.predict import load_model, load_predictor
from pipeline.recipes import lite_convert
from pipeline.registry import Registry
from pipeline.runtimes import lite
from pipeline.text import Cleaner

TRICKY = [
    "RT @user: Trump's answer… was GREAT!!! http://t.co/x #GOPDebate",
    "ﬁne straße ΣΑΣ café naïve Ünïcödé",  # NFKC, case folding, accents kept
    "中文字 and 日本語 mixed",  # CJK characters are words of their own
    "emoji 👍🏽 and a family 👨‍👩‍👧, zero\u200bwidth, soft\u00adhyphen",
    "control\x00chars\x07 and\ttabs\nnewlines",
    "a" * 150,  # longer than WordPiece's 100 bytes: [UNK]
    "unknownzzqx words ##hash [CLS] [SEP]",
    "",
    "   ",
]


def vendored_tokenizer():
    vocabulary = config.DEFAULT_ENCODER_DIR / "assets" / "tokenizer" / "vocabulary.txt"
    if not vocabulary.is_file():
        pytest.skip(f"the vendored MiniLM vocabulary is absent ({vocabulary})")
    from pipeline.backend import keras_hub

    return keras_hub.models.BertTokenizer.from_preset(str(config.DEFAULT_ENCODER_DIR))


@pytest.mark.parametrize("vocabulary", ["vendored MiniLM", "tiny test encoder"])
def test_python_wordpiece_gives_the_keras_hub_token_ids(vocabulary, tiny_encoder):
    from pipeline.backend import keras_hub, tf
    from pipeline.recipes.encoder import build_text_encoder
    from pipeline.runtimes.wordpiece import WordPiece

    if vocabulary == "vendored MiniLM":
        tokenizer = vendored_tokenizer()
    else:
        tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tiny_encoder))
    texts = TRICKY + list(HOSTILE.values())[1:] + load_sample_texts()
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    cleaner, packer = build_text_encoder(tokenizer, 48)
    expected = packer(cleaner(tf.constant(texts)))["token_ids"].numpy()
    wordpiece = WordPiece(tokenizer.get_vocabulary(), 48, lowercase=True)
    clean = Cleaner.from_config(cleaner.get_config())
    got = wordpiece.token_ids([clean(t) for t in texts])
    for text, mine, theirs in zip(texts, got, expected, strict=True):
        assert mine.tolist() == theirs.tolist(), text[:80]


def load_sample_texts() -> list[str]:
    return load_labelled_data(config.SAMPLE_DATA_PATH).frame["text"].tolist()


def test_a_trained_transformer_keeps_a_lite_copy_that_agrees(tiny_minilm_dir):
    registry = Registry(tiny_minilm_dir)
    metadata = registry.metadata()
    assert lite.LITE_FILE in metadata["files"]
    assert (
        metadata["lite"]["kept"] and metadata["lite"]["same_label"] >= lite_convert.MIN_SAME_LABEL
    )
    texts = load_sample_texts()
    served = load_predictor(tiny_minilm_dir)
    assert isinstance(served.forward.__self__, lite.LiteTransformer)
    keras = load_predictor(tiny_minilm_dir, backend="keras").predict_proba(texts)
    np.testing.assert_allclose(served.predict_proba(texts), keras, atol=1e-4)  # float copy


def test_the_lite_path_serves_without_importing_tensorflow(tiny_minilm_dir):
    script = f"""
import json, sys
from pipeline.predict import load_predictor
predictor = load_predictor({str(tiny_minilm_dir)!r})
answers = predictor.predict_proba({TRICKY!r}).tolist()
print(json.dumps({{"tensorflow": "tensorflow" in sys.modules, "answers": answers}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=config.PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "XNNPACK" not in result.stderr  # LiteRT's start-up line is hidden
    outcome = json.loads(result.stdout)
    assert outcome["tensorflow"] is False
    # Against the saved model called directly: the Keras serving path's graph-mode
    # tokenizer (tf_text) cuts a text at a NUL byte, keras-hub's eager one does not.
    model = load_model(Registry(tiny_minilm_dir))
    direct = np.asarray(model(np.array(TRICKY, dtype=object)))
    np.testing.assert_allclose(outcome["answers"], direct, atol=1e-4)


def test_the_lite_path_applies_the_saved_temperature(tiny_minilm_dir, tmp_path):
    from pipeline.recipes.transformer import with_temperature

    model = unscaled_model(tiny_minilm_dir)
    content = lite_convert.to_tflite(model.network)
    scaled = with_temperature(model, 3.0)
    scaled.save(tmp_path / "model.keras")
    (tmp_path / lite.LITE_FILE).write_bytes(content)
    served = lite.open_lite_model(tmp_path / "model.keras", tmp_path / lite.LITE_FILE)
    assert served.temperature == 3.0
    texts = load_sample_texts()[:40]
    direct = np.asarray(scaled(np.array(texts, dtype=object)))
    np.testing.assert_allclose(served.predict_proba(texts), direct, atol=1e-4)
    unscaled = np.asarray(model(np.array(texts, dtype=object)))
    assert np.abs(direct - unscaled).max() > 1e-3  # the check above would see a missing T


def unscaled_model(models_dir):
    """The tiny version's model without the temperature calibration may have given it."""
    from pipeline.backend import keras
    from pipeline.runtimes.layers import TextClassifier

    model = load_model(Registry(models_dir))
    network = keras.Model(model.network.input, model.network.get_layer("head").output)
    return TextClassifier(model.cleaner, model.packer, network)


def test_an_int8_network_is_converted_with_its_dense_weights_unpacked(tiny_minilm_dir):
    """The weights-only int8 network's dense kernels are cast to float once, at conversion;
    the only int8 casts left are of the embedding rows a call looks up."""
    from pipeline.backend import tf
    from pipeline.recipes.transformer import quantize

    model = unscaled_model(tiny_minilm_dir)
    quantize(model)
    graph_def = lite_convert.freeze(model.network)

    def int8_casts() -> int:
        int8 = tf.int8.as_datatype_enum
        return sum(n.op == "Cast" and n.attr["SrcT"].type == int8 for n in graph_def.node)

    before = int8_casts()
    folded = lite_convert.unpack_int8_weights(graph_def)
    assert folded >= 6 * 2  # q, k, v, output and the two FFN kernels of its 2 layers
    assert int8_casts() == before - folded == 2  # the token and segment embeddings
    content = lite_convert.to_tflite(model.network)
    texts = load_sample_texts()[:60]
    expected = np.asarray(model(np.array(texts, dtype=object)))
    report = lite_convert.check_copy(model, content, texts, expected)
    assert report["same_label"] == 1.0 and report["largest_difference"] < 1e-4


def test_a_network_with_its_temperature_is_refused(tiny_minilm_dir):
    from pipeline.recipes.transformer import with_temperature

    scaled = with_temperature(unscaled_model(tiny_minilm_dir), 2.0)
    with pytest.raises(ValueError, match="before calibration"):
        lite_convert.to_tflite(scaled.network)


def test_a_copy_that_disagrees_is_measured_and_not_kept(tiny_minilm_dir):
    model = unscaled_model(tiny_minilm_dir)
    content = lite_convert.to_tflite(model.network)
    texts = load_sample_texts()[:60]
    expected = np.asarray(model(np.array(texts, dtype=object)))
    assert lite_convert.check_copy(model, content, texts, expected)["kept"]
    wrong = np.roll(expected, 1, axis=1)  # every label moved to another class
    report = lite_convert.check_copy(model, content, texts, wrong)
    assert not report["kept"] and report["same_label"] < 0.5
    assert report["largest_difference"] > 0.01 and report["texts"] == 60


def test_training_without_the_lite_runtime_serves_through_keras(
    tiny_encoder, tmp_path, monkeypatch
):
    from pipeline.params import resolve_params
    from pipeline.train import train_and_save

    monkeypatch.setattr(lite, "available", lambda: False)
    data = load_labelled_data(config.SAMPLE_DATA_PATH)
    params = resolve_params(
        {"architecture": "minilm-frozen", "quantize": "none", "lite_copy": "yes", **TINY_MINILM}
    )
    metadata = train_and_save(data, params, Registry(tmp_path))
    assert lite.LITE_FILE not in metadata["files"] and "lite" not in metadata
    predictor = load_predictor(tmp_path)  # falls back to the Keras serving path
    assert not isinstance(getattr(predictor.forward, "__self__", None), lite.LiteTransformer)
    with pytest.raises(Exception, match="no LiteRT copy"):
        load_predictor(tmp_path, backend="lite")


def test_the_lite_path_gives_the_same_answers_from_8_threads(tiny_minilm_dir):
    predictor = load_predictor(tiny_minilm_dir, backend="lite")
    texts = load_sample_texts()
    batches = [texts[i : i + 1 + i % 40] for i in range(0, len(texts), 23)]
    expected = [predictor.predict_proba(batch) for batch in batches]
    start = threading.Barrier(8)

    def worker(offset: int):
        start.wait()
        order = [(offset + k) % len(batches) for k in range(len(batches))]
        return [(i, predictor.predict_proba(batches[i])) for i in order]

    with ThreadPoolExecutor(8) as pool:
        for outcome in pool.map(worker, range(8)):
            for i, probabilities in outcome:
                np.testing.assert_allclose(probabilities, expected[i], atol=1e-6)


def test_the_dashboard_predicts_on_a_lite_version_without_importing_tensorflow(tiny_minilm_dir):
    script = f"""
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(config.PROJECT_ROOT / "streamlit_app.py")!r}, default_timeout=120)
at.run()
at.text_area(key="predict_text").input("what a great night")
at.button(key="FormSubmitter:predict_form-Predict").click().run()
labels = [m.value for m in at.metric if m.label == "Predicted label"]
print(json.dumps({{"labels": labels, "failed": bool(at.exception),
                  "tensorflow": "tensorflow" in sys.modules}}))
"""
    env = {**os.environ, config.MODELS_DIR_ENV: str(tiny_minilm_dir)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=config.PROJECT_ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["labels"] and not outcome["failed"]
    assert outcome["tensorflow"] is False  # the cold start never pays for TensorFlow
