"""The pretrained encoder the transformer recipes share: loading, tokenizing, embedding cache.

The encoder is all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), vendored as a keras-hub preset
in vendor/all-minilm-l6-v2 (float16 on disk, float32 in memory). Nothing is downloaded: a
local preset folder loads through the same `from_preset` call as a hub name. Tests point
$SENTIMENT_ENCODER_DIR at a tiny random preset of the same classes. TensorFlow and keras-hub
are imported inside the functions that need them.
"""

import functools
import hashlib
import json
import os
import secrets
from pathlib import Path

import numpy as np

from pipeline import config
from pipeline.errors import ParameterError
from pipeline.runtimes.batching import (  # noqa: F401  (re-exported for the recipes)
    LENGTH_BUCKET,
    SERVING_BATCH,
    bert_inputs,
    length_batches,
    token_lengths,
    trim,
)
from pipeline.text import TRANSFORMER_RULES, emoji_characters

PROBE_TEXTS = (
    "I love this, what a great night!",
    "This is the worst debate I have ever seen.",
    "The debate starts at nine tonight.",
)


@functools.cache
def encoder_info(folder: str | None = None) -> dict:
    """Where the encoder came from: name, licence, source checksums and its weights' SHA-256.

    Args:
        folder: the preset folder; default config.encoder_dir().

    Returns:
        The preset's source.json (or, for a preset without one, its folder and checksum).
    """
    folder = Path(folder or config.encoder_dir())
    weights = folder / "model.weights.h5"
    if not weights.is_file():
        raise ParameterError(
            f"The pretrained encoder is missing: {weights} does not exist. It ships in the "
            "repository (vendor/all-minilm-l6-v2); restore it with git checkout."
        )
    try:
        info = json.loads((folder / "source.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        info = {"name": folder.name}
    info.setdefault("weights_sha256", hashlib.sha256(weights.read_bytes()).hexdigest())
    return {**info, "folder": str(folder)}


def load_encoder(folder: str | os.PathLike | None = None):
    """The backbone (float32) and tokenizer from a keras-hub preset folder, offline.

    Args:
        folder: the preset folder; default config.encoder_dir().

    Returns:
        (keras_hub.models.BertBackbone, keras_hub.models.BertTokenizer).
    """
    from pipeline.backend import keras_hub

    folder = str(folder or config.encoder_dir())
    encoder_info(folder)  # a clear message when the weights are missing
    backbone = keras_hub.models.BertBackbone.from_preset(folder, dtype="float32")
    tokenizer = keras_hub.models.BertTokenizer.from_preset(folder)
    return backbone, tokenizer


def build_text_encoder(tokenizer, sequence_length: int):
    """Cleaning and tokenizing, raw strings to BERT inputs padded to `sequence_length`.

    Args:
        tokenizer: the encoder's BertTokenizer.
        sequence_length: tokens per text, [CLS] and [SEP] included; longer texts are cut.

    Returns:
        (CleanText layer, BertTextClassifierPreprocessor).
    """
    from pipeline.backend import keras_hub
    from pipeline.runtimes.layers import CleanText

    cleaner = CleanText(rules=TRANSFORMER_RULES, characters=emoji_characters(), name="clean_text")
    packer = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length, name="preprocessor"
    )
    return cleaner, packer


def tokenize(cleaner, packer, texts) -> np.ndarray:
    """Token ids, shape (n, sequence_length), 0 for padding, in batches of 1,024."""
    from pipeline.backend import tf

    parts = [
        packer(cleaner(tf.constant(list(texts[start : start + 1024]))))["token_ids"].numpy()
        for start in range(0, len(texts), 1024)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, packer.sequence_length), "int32")


def choose_sequence_length(train_texts, tokenizer, cap: int, quantile: float = 0.99) -> int:
    """The length that holds `quantile` of the training texts whole, in LENGTH_BUCKET steps.

    Args:
        train_texts: the training texts.
        tokenizer: the encoder's tokenizer.
        cap: the most tokens allowed (the `sequence_length` hyperparameter).
        quantile: the share of texts that must fit.

    Returns:
        A multiple of LENGTH_BUCKET between LENGTH_BUCKET and `cap`.
    """
    cleaner, packer = build_text_encoder(tokenizer, cap)
    lengths = token_lengths(tokenize(cleaner, packer, list(train_texts)))
    wanted = int(np.ceil(np.quantile(lengths, quantile) / LENGTH_BUCKET) * LENGTH_BUCKET)
    return int(min(cap, max(LENGTH_BUCKET, wanted)))


def build_pooled_encoder(backbone):
    """BERT inputs to the mean of the real tokens' outputs (all-MiniLM's sentence embedding).

    Args:
        backbone: a BertBackbone.

    Returns:
        A model from {"token_ids", "padding_mask", "segment_ids"} to (n, hidden_dim).
    """
    from pipeline.backend import keras

    inputs = {
        "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((None,), dtype="bool", name="padding_mask"),
        "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
    }
    sequence = backbone(inputs)["sequence_output"]
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(
        sequence, mask=inputs["padding_mask"]
    )
    return keras.Model(inputs, pooled, name="pooled_encoder")


def sentence_embeddings(backbone, tokenizer, texts, sequence_length: int = 128) -> np.ndarray:
    """Unit-length sentence embeddings, as sentence-transformers computes for all-MiniLM."""
    cleaner, packer = build_text_encoder(tokenizer, sequence_length)
    pooled = build_pooled_encoder(backbone)(bert_inputs(tokenize(cleaner, packer, list(texts))))
    pooled = np.asarray(pooled)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


class EmbeddingCache:
    """Sentence embeddings on disk, keyed by encoder, sequence length, cleaning and text.

    The frozen recipe computes each text's embedding once; retraining the head on the same
    (or overlapping) data then takes seconds. One .npz file per encoder, length and cleaning.

    Args:
        encoder_sha256: the encoder weights' checksum.
        sequence_length: the length texts were cut to.
        cleaning: the cleaning applied before tokenizing (the CleanText layer's rules and
            emoji table).
        folder: the cache folder; default config.cache_dir() / "embeddings".
    """

    def __init__(
        self, encoder_sha256: str, sequence_length: int, cleaning, folder: Path | None = None
    ):
        folder = Path(folder or config.cache_dir() / "embeddings")
        rules_key = hashlib.sha256(json.dumps(cleaning).encode()).hexdigest()
        name = f"{encoder_sha256[:16]}-len{sequence_length}-rules{rules_key[:8]}.npz"
        self.path = folder / name
        self.vectors: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path) as stored:
                self.vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            pass  # no cache yet, or a damaged one: it is recomputed

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]

    def missing(self, texts) -> list[str]:
        """The distinct texts that have no cached embedding."""
        return list(dict.fromkeys(t for t in texts if self.key(t) not in self.vectors))

    def add(self, texts, vectors: np.ndarray) -> None:
        for text, vector in zip(texts, vectors, strict=True):
            self.vectors[self.key(text)] = np.asarray(vector, dtype="float32")

    def get(self, texts) -> np.ndarray:
        return np.stack([self.vectors[self.key(t)] for t in texts])

    def save(self) -> None:
        """Write the cache atomically (a killed write leaves the old file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.stem}-{secrets.token_hex(4)}.npz")
        try:
            keys = np.array(list(self.vectors))
            np.savez(temp, keys=keys, vectors=np.stack(list(self.vectors.values())))
            os.replace(temp, self.path)
        finally:
            temp.unlink(missing_ok=True)
