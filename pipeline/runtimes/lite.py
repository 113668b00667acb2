"""Serving a transformer version without TensorFlow: LiteRT for the network, Python for text.

Importing TensorFlow takes seconds and about 700 MiB before any model loads, which is most
of a transformer's cold start and serving memory. So when a `minilm`, `minilm-frozen` or
`minilm+fasttext` version is saved, its transformer network is also converted to a LiteRT
(TensorFlow Lite) flatbuffer, `model.tflite`, kept beside `model.keras` (at save time, with
TensorFlow: pipeline.recipes.lite_convert). Serving then needs
only `ai-edge-litert` (the LiteRT interpreter, with its XNNPACK CPU kernels), NumPy and
`pipeline.runtimes.wordpiece`:

    cleaning (the saved CleanText rules, in Python) -> WordPiece token ids -> batches by
    length (pipeline.runtimes.batching) -> the LiteRT network -> temperature scaling

and for a pair, the fasttext member's NumPy forward pass (pipeline.runtimes.numpy_model) and
the geometric mean (pipeline.runtimes.geometric). The cleaning rules, vocabulary, sequence
length, member weights and temperature are read from the `.keras` file itself, so the two
files cannot disagree on them. Nothing here may import TensorFlow.
"""

import importlib.util
import json
import queue
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipeline.calibration import scale_probabilities
from pipeline.errors import RegistryError
from pipeline.quiet import quietly
from pipeline.runtimes.batching import length_batches, token_lengths, trim
from pipeline.runtimes.geometric import combine
from pipeline.runtimes.numpy_model import NumpyFastText, read_fasttext
from pipeline.runtimes.wordpiece import WordPiece
from pipeline.text import Cleaner

LITE_FILE = "model.tflite"
# Texts per invoke. Smaller than the Keras path's SERVING_BATCH (whose shapes XLA compiles):
# LiteRT compiles nothing, a batch spreads more evenly over the interpreters, and it stays
# in cache (bench/serving_transformer.py compares batch sizes).
LITE_BATCH = 16
# The serving pool: one interpreter per core, one thread each, so that concurrent sessions do
# not queue behind one (an interpreter's tensors are not thread-safe); under many dashboard
# sessions two single-thread interpreters served the most predictions a second (bench/load.py
# --setups compares the pools). Each interpreter holds its own copy of the weights, packed for
# XNNPACK's kernels.
SERVING_INTERPRETERS = 2
SERVING_THREADS = 1
VOCABULARY_SUFFIX = "tokenizer/vocabulary.txt"


def _find(config, class_name: str) -> dict | None:
    """The config of the first layer of a class anywhere in a saved model's config."""
    if isinstance(config, dict):
        if config.get("class_name") == class_name:
            return config["config"]
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return None
    return next((found for v in values if (found := _find(v, class_name)) is not None), None)


class LiteTransformer:
    """A transformer's forward pass on LiteRT: texts -> probabilities.

    Args:
        config: the TextClassifier's config (the whole config.json, or a pair's member),
            for the cleaning rules, the tokenizer's settings and the temperature.
        vocabulary: the WordPiece vocabulary, one token a line.
        lite_path: the version's model.tflite.
        threads: each interpreter's CPU threads.
        interpreters: how many requests can run at once.
    """

    def __init__(
        self,
        config: dict,
        vocabulary: list[str],
        lite_path,
        threads: int = SERVING_THREADS,
        interpreters: int = SERVING_INTERPRETERS,
    ):
        from ai_edge_litert.interpreter import Interpreter

        cleaning = _find(config, "CleanText")
        tokenizer = _find(config, "BertTokenizer")
        packer = _find(config, "BertTextClassifierPreprocessor")
        self.clean = Cleaner.from_config(cleaning)
        self.temperature = (_find(config, "TemperatureScaling") or {}).get("temperature")
        if vocabulary and vocabulary[-1] == "":
            vocabulary = vocabulary[:-1]
        self.wordpiece = WordPiece(
            vocabulary,
            packer["sequence_length"],
            tokenizer["lowercase"],
            tokenizer["strip_accents"],
        )
        self.pool: queue.LifoQueue = queue.LifoQueue()  # a lone request reuses a warm one
        for _ in range(interpreters):
            interpreter = Interpreter(model_path=str(lite_path), num_threads=threads)
            quietly(interpreter.allocate_tensors)  # it prints a line creating its CPU delegate
            self.pool.put(_Runner(interpreter))
        self.interpreters, self.threads = interpreters, threads
        self.workers = ThreadPoolExecutor(interpreters, thread_name_prefix="litert")

    def token_ids(self, texts: list[str]) -> np.ndarray:
        """The model's cleaning, then WordPiece ids padded to its sequence length."""
        return self.wordpiece.token_ids([self.clean(t) for t in texts])

    def run(self, token_ids: np.ndarray) -> np.ndarray:
        """The network on one batch of token ids, on the first interpreter free."""
        runner = self.pool.get()
        try:
            return runner.run(token_ids)
        finally:
            self.pool.put(runner)

    def predict_proba(self, texts) -> np.ndarray:
        """Probabilities (n, classes) for raw texts, in batches of similar lengths."""
        texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        token_ids = self.token_ids(texts)
        batches = length_batches(token_lengths(token_ids), LITE_BATCH)
        # No padding of rows: LiteRT resizes to any shape without compiling anything. The
        # batches go to all the interpreters at once (invoke releases the GIL).
        # One batch (a single text) or one interpreter runs here: no thread hop, and no
        # worker thread is ever started (ThreadPoolExecutor starts them on first use).
        spread = self.workers.map if len(batches) > 1 and self.interpreters > 1 else map
        answers = spread(lambda index: self.run(trim(token_ids[index])), batches)
        out = None
        for index, probabilities in zip(batches, answers, strict=True):
            if out is None:
                out = np.empty((len(texts), probabilities.shape[1]), dtype="float32")
            out[index] = probabilities
        if self.temperature is None:
            return out
        # runtimes.layers.TemperatureScaling's own function, as Keras runs it.
        return scale_probabilities(out, self.temperature)


class _Runner:
    """One LiteRT interpreter and the input shape its tensors are allocated for."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        self.input = interpreter.get_input_details()[0]["index"]
        self.output = interpreter.get_output_details()[0]["index"]
        self.shape: tuple | None = None

    def run(self, token_ids: np.ndarray) -> np.ndarray:
        """The network on one batch (the tensors resized first if its shape is new)."""
        if token_ids.shape != self.shape:
            self.interpreter.resize_tensor_input(self.input, token_ids.shape, strict=False)
            self.interpreter.allocate_tensors()
            self.shape = token_ids.shape
        self.interpreter.set_tensor(self.input, token_ids)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


class LitePair:
    """A `minilm+fasttext` version without TensorFlow: the LiteRT transformer, NumPy
    fasttext, and GeometricEnsemble's arithmetic on their answers.

    Args:
        members: the LiteTransformer and the NumpyFastText, in the pair's order.
        weights: their weights in the geometric mean.
        temperature: the combination's temperature.
    """

    def __init__(self, members: list, weights: list[float], temperature: float):
        self.members, self.weights, self.temperature = members, weights, temperature

    def predict_proba(self, texts) -> np.ndarray:
        """Probabilities (n, classes) for raw texts."""
        answers = [member.predict_proba(texts) for member in self.members]
        return combine(answers, self.weights, self.temperature)


def open_lite_model(
    model_path,
    lite_path,
    interpreters: int = SERVING_INTERPRETERS,
    threads: int = SERVING_THREADS,
) -> LiteTransformer | LitePair:
    """The LiteRT forward pass of a saved transformer version or pair, and its model.tflite.

    `interpreters` and `threads` (each interpreter's): see LiteTransformer.
    """
    with zipfile.ZipFile(model_path) as archive:
        config = json.loads(archive.read("config.json"))
        vocabulary_file = next(n for n in archive.namelist() if n.endswith(VOCABULARY_SUFFIX))
        vocabulary = archive.read(vocabulary_file).decode("utf-8").split("\n")
        if config["class_name"] != "GeometricEnsemble":
            return LiteTransformer(config, vocabulary, lite_path, threads, interpreters)
        pair = config["config"]
        transformer_config, fasttext_config = pair["members"]
        fasttext: NumpyFastText = read_fasttext(archive, fasttext_config)
    transformer = LiteTransformer(transformer_config, vocabulary, lite_path, threads, interpreters)
    members = [transformer, fasttext]
    return LitePair(members, pair["weights"], pair["temperature"])


def available() -> bool:
    """Whether the LiteRT runtime is installed (requirements.txt has it; other installs may not)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def load_lite_model(model_path, lite_path) -> LiteTransformer | LitePair | None:
    """The LiteRT forward pass, or None where the LiteRT runtime is not installed.

    Raises:
        RegistryError: the files are there but cannot be read.
    """
    if not available():
        return None
    try:
        return open_lite_model(model_path, lite_path)
    except (OSError, KeyError, ValueError, TypeError, StopIteration, zipfile.BadZipFile) as exc:
        raise RegistryError(f"Model file {lite_path} could not be read: {exc}") from exc
