"""A saved `fasttext` model's forward pass in NumPy, read straight from its `.keras` file.

Serving a single text through Keras costs milliseconds of framework overhead for
microseconds of arithmetic, and importing TensorFlow takes seconds. This module reads the
cleaning rules, the vocabulary and the weights from the `.keras` zip (config.json, the
vectorizer's vocabulary asset and model.weights.h5) and computes the same function with
the standard library, NumPy and h5py. tests/test_numpy_model.py checks it against Keras.
"""

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
from scipy.sparse import csr_matrix

from pipeline.calibration import scale_probabilities
from pipeline.errors import RegistryError
from pipeline.text import Cleaner

SMALL_BATCH = 16
FEW_CODES = 4096
VOCABULARY_ASSET = "text_vectorization/vocabulary.txt"  # an asset of the vectorizer layer


def _layers(config: dict) -> list[dict]:
    """Every layer config in a saved model, nested models flattened, in order."""
    found = []
    for layer in config["config"].get("layers", []):
        found.append(layer)
        if "layers" in layer["config"]:
            found.extend(_layers(layer))
    return found


def _ngram_code(chars: bytes) -> int:
    """An ASCII n-gram of up to 7 characters as one integer: its bytes and its width."""
    return sum(c << (8 * k) for k, c in enumerate(chars)) | (len(chars) << 56)


def _slots(codes: np.ndarray, bits: int) -> np.ndarray:
    """Fibonacci hashing of codes into a table of 2**bits slots."""
    with np.errstate(over="ignore"):
        return (codes * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)


class NgramTable:
    """An open-addressing hash table from n-gram codes to vocabulary ids, probed with
    whole arrays at once: several times faster than a binary search per n-gram."""

    EMPTY = np.uint64(0)  # no real code is 0: every code carries its width in the top byte

    def __init__(self, vocabulary: list[str]):
        tokens = vocabulary[2:]  # 0 is padding, 1 out-of-vocabulary
        self.bits = max(4, int(np.ceil(np.log2(len(tokens) * 2 + 1))))
        size = 1 << self.bits
        keys, ids = [0] * size, [1] * size
        self.max_probe = 0
        codes = np.array([_ngram_code(t[::2].encode("ascii")) for t in tokens], dtype=np.uint64)
        slots = _slots(codes, self.bits).tolist()
        for token_id, (code, slot) in enumerate(zip(codes.tolist(), slots, strict=True), start=2):
            probe = 0
            while keys[(slot + probe) % size] not in (0, code):
                probe += 1
            keys[(slot + probe) % size], ids[(slot + probe) % size] = code, token_id
            self.max_probe = max(self.max_probe, probe)
        self.keys = np.array(keys, dtype=np.uint64)
        self.ids = np.array(ids, dtype=np.int64)
        order = np.argsort(codes)
        self.sorted_codes, self.sorted_ids = codes[order], order.astype(np.int64) + 2

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Vocabulary ids of n-gram codes; unknown n-grams get the out-of-vocabulary id 1."""
        if len(codes) <= FEW_CODES:
            # One text's few hundred codes: a binary search is fewer NumPy calls than probing.
            found = np.searchsorted(self.sorted_codes, codes).clip(max=len(self.sorted_codes) - 1)
            return np.where(self.sorted_codes[found] == codes, self.sorted_ids[found], 1)
        mask = np.uint64((1 << self.bits) - 1)
        slots = _slots(codes, self.bits)
        ids = np.ones(len(codes), dtype=np.int64)
        pending = np.arange(len(codes))
        for _ in range(self.max_probe + 1):
            found = self.keys[slots[pending]]
            hit = found == codes[pending]
            ids[pending[hit]] = self.ids[slots[pending[hit]]]
            pending = pending[~hit & (found != self.EMPTY)]
            if not len(pending):
                break
            slots[pending] = (slots[pending] + np.uint64(1)) & mask
        return ids


class NumpyFastText:
    """The fasttext network (clean -> character n-grams -> mean embedding -> softmax), and
    its temperature scaling when the saved model has one.

    Args:
        config: the model's config.json.
        vocabulary: the vectorizer's tokens; index 0 is padding, 1 is out-of-vocabulary.
        embedding: the embedding matrix, (vocabulary, dim).
        kernel: the output layer's weights, (dim, classes).
        bias: the output layer's bias, (classes,).
    """

    def __init__(self, config: dict, vocabulary: list[str], embedding, kernel, bias):
        layers = {layer["class_name"]: layer["config"] for layer in _layers(config)}
        cleaning, vectorizer = layers["CleanText"], layers["TextVectorization"]
        self.clean = Cleaner.from_config(cleaning)
        self.ngrams = tuple(vectorizer["ngrams"] or (1,))
        self.length = vectorizer["output_sequence_length"]
        # runtimes.layers.TemperatureScaling on the output, when calibration kept one.
        self.temperature = layers.get("TemperatureScaling", {}).get("temperature")
        # The first width alone fills the sequence once a text has this many characters,
        # so longer cleaned texts can be cut there without changing any id.
        self.max_chars = self.length + self.ngrams[0] - 1
        self.table = NgramTable(vocabulary)
        self.embedding = np.asarray(embedding, dtype=np.float32)
        self.kernel = np.asarray(kernel, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)

    def _text_codes(self, text: str) -> np.ndarray:
        """One text's n-gram codes in the vectorizer's order (see `_ngram_codes`)."""
        cleaned = self.clean(text)[: self.max_chars].encode("ascii", "replace")
        chars = np.frombuffer(cleaned, dtype=np.uint8).astype(np.uint64)
        parts, total = [], 0
        for width in self.ngrams:
            n = len(chars) - width + 1
            if n <= 0:
                continue
            code = chars[:n] | np.uint64(width << 56)
            for k in range(1, width):
                code |= chars[k : k + n] << np.uint64(8 * k)
            parts.append(code)
            total += n
            if total >= self.length:
                break
        return np.concatenate(parts)[: self.length] if parts else np.zeros(0, dtype=np.uint64)

    def _ngram_codes(self, cleaned: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Every text's n-gram codes in the vectorizer's order, cut to its sequence length.

        TextVectorization emits all n-grams of the first width, then the next width, and
        keeps the first `length`. Cleaned text is ASCII, so an n-gram of up to 7 characters
        packs exactly into one integer (its bytes plus its width): no hashing, no collisions.

        Returns:
            The codes of all texts, concatenated, and each text's number of codes.
        """
        lengths = np.fromiter(map(len, cleaned), dtype=np.int64, count=len(cleaned))
        buffer = np.frombuffer(b"".join(cleaned) + bytes(8), dtype=np.uint8).astype(np.uint64)
        text_of = np.repeat(np.arange(len(cleaned)), lengths)
        offset = np.arange(len(text_of)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        kept = np.zeros(len(cleaned), dtype=np.int64)  # n-grams kept so far per text
        per_width = []
        for width in self.ngrams:
            code = np.full(len(text_of), np.uint64(width) << np.uint64(56), dtype=np.uint64)
            for k in range(width):
                code |= buffer[k : k + len(text_of)] << np.uint64(8 * k)
            rank = kept[text_of] + offset  # place in its text's sequence
            valid = (offset <= lengths[text_of] - width) & (rank < self.length)
            per_width.append((code[valid], text_of[valid], rank[valid]))
            kept += np.clip(lengths - width + 1, 0, None)
        counts = np.minimum(kept, self.length)
        first = np.cumsum(counts) - counts
        codes = np.empty(int(counts.sum()), dtype=np.uint64)
        for code, text, rank in per_width:
            codes[first[text] + rank] = code
        return codes, counts

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities for raw texts, shape (n, classes)."""
        if len(texts) == 0:
            return np.zeros((0, len(self.bias)), dtype=np.float32)
        # Keras takes a masked mean of the n-gram embeddings; padding is never generated
        # here, so it is a plain mean: a sum per text divided by its n-gram count.
        if len(texts) <= SMALL_BATCH:
            # Text by text: the batch path's fixed cost of a few dozen NumPy calls would
            # dominate for one or a few texts.
            sequences = [self.table.lookup(self._text_codes(text)) for text in texts]
            counts = np.array([len(ids) for ids in sequences])
            sums = np.stack([self.embedding.take(ids, axis=0).sum(axis=0) for ids in sequences])
        else:
            cleaned = [
                self.clean(text)[: self.max_chars].encode("ascii", "replace") for text in texts
            ]
            codes, counts = self._ngram_codes(cleaned)
            ids = self.table.lookup(codes)
            # A sparse count matrix times the embedding: far cheaper for many texts than
            # gathering one embedding row per n-gram (measured: 17k vs 5k texts/s).
            indptr = np.concatenate([[0], np.cumsum(counts)])
            ones = np.ones(len(ids), dtype=np.float32)
            shape = (len(texts), len(self.embedding))
            sums = csr_matrix((ones, ids, indptr), shape=shape) @ self.embedding
        pooled = sums / np.maximum(counts, 1)[:, None].astype(np.float32)
        logits = pooled @ self.kernel + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probabilities = exp / exp.sum(axis=1, keepdims=True)
        if self.temperature is None:
            return probabilities
        # The saved layer's own function, on the network's probabilities, as Keras runs it.
        return scale_probabilities(probabilities, self.temperature)


def _fasttext_weights(weights: h5py.File) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The embedding matrix, kernel and bias of the one fasttext network in a weights file
    (at the top of a fasttext version, inside a `minilm+fasttext` pair)."""
    found = []

    def collect(name: str, group) -> None:  # the fasttext network is the one Sequential
        if name.endswith("sequential/layers") and {"embedding", "dense"} <= set(group):
            found.append(group)

    weights.visititems(collect)
    if len(found) != 1:
        raise KeyError(f"{len(found)} fasttext networks in the weights")
    network = found[0]
    embedding = network["embedding"]["vars"]["0"][()]
    return embedding, network["dense"]["vars"]["0"][()], network["dense"]["vars"]["1"][()]


def read_fasttext(archive: zipfile.ZipFile, config: dict) -> NumpyFastText:
    """The NumPy fasttext network of an open `.keras` archive.

    Args:
        archive: the model file.
        config: the fasttext model's config (the whole config.json, or a pair's member).
    """
    vocabulary_file = next(
        name
        for name in archive.namelist()
        if name.endswith(VOCABULARY_ASSET) and "_lookup_layer" not in name
    )
    vocabulary = archive.read(vocabulary_file).decode("utf-8").split("\n")
    with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        embedding, kernel, bias = _fasttext_weights(weights)
    return NumpyFastText(config, vocabulary[: len(embedding)], embedding, kernel, bias)


def load_numpy_model(path: str | Path) -> NumpyFastText | None:
    """Read a `.keras` file into a NumpyFastText, or None if its network is not fasttext.

    Args:
        path: the model file.

    Returns:
        The NumPy model, or None when this module cannot run that architecture.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            if not any(layer["class_name"] == "CleanText" for layer in _layers(config)):
                return None
            names = [layer["config"].get("name") for layer in _layers(config)]
            if "fasttext" not in names:
                return None
            return read_fasttext(archive, config)
    except (OSError, KeyError, ValueError, StopIteration, zipfile.BadZipFile) as exc:
        raise RegistryError(f"Model file {path} could not be read: {exc}") from exc


def from_keras(model) -> NumpyFastText | None:
    """The NumPy forward pass of a loaded fasttext model (e.g. an ensemble's member).

    Args:
        model: an end-to-end fasttext keras.Model (cleaning, vectorizer, network).

    Returns:
        The NumPy model, or None when the model is not fasttext.
    """
    kinds = {type(layer).__name__: layer for layer in model.layers}
    network = kinds.get("Sequential")
    if "CleanText" not in kinds or network is None or network.name != "fasttext":
        return None
    embedding = next(layer for layer in network.layers if type(layer).__name__ == "Embedding")
    dense = next(layer for layer in network.layers if type(layer).__name__ == "Dense")
    kernel, bias = (np.asarray(w) for w in dense.get_weights())
    vocabulary = kinds["TextVectorization"].get_vocabulary()
    matrix = np.asarray(embedding.get_weights()[0])
    return NumpyFastText(
        {"config": model.get_config()}, vocabulary[: len(matrix)], matrix, kernel, bias
    )
