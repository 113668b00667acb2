"""The Keras path: load a saved version with Keras, and serve it fast, without compile stalls.

`load_keras_model` loads a `.keras` file with safe_mode on (no arbitrary code runs), after
registering the project's own classes (pipeline.runtimes.layers). `serving_forward` picks
the fastest Keras serving function for the loaded model by its class: a TextClassifier (a
transformer) runs `transformer_forward`, a GeometricEnsemble (a pair) runs each member's own
path and combines them, anything else one traced graph (`keras_forward`).

A transformer's saved model runs unchanged, but padding is trimmed per batch: texts are
sorted by token length and each batch of up to SERVING_BATCH is cut to its longest text (in
LENGTH_BUCKET steps), so a short tweet costs a short forward pass.

This is the path of versions without a LiteRT copy (pipeline.runtimes.lite). XLA makes the
network several times faster, but it compiles a program per input
shape, and each compilation takes a second or more on 2 cores. So serving is tiered: a
shape seen for the first time runs through the plain TensorFlow graph (one trace serves
every shape) while a background thread compiles its XLA program; once that is ready, the
shape runs compiled. The first prediction after start-up and the first batch of a new shape
therefore never wait for the compiler, and both paths run the same layers and weights.
Each compiled program stays in memory for the life of the process (about 10-25 MiB here),
so at most MAX_COMPILED_SHAPES are compiled, the first ones seen (the common ones); any
other shape keeps the plain graph.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipeline.backend import keras, tf
from pipeline.runtimes import numpy_model
from pipeline.runtimes.batching import (
    SERVING_BATCH,
    bert_inputs,
    length_batches,
    token_lengths,
    trim,
)
from pipeline.runtimes.geometric import combine
from pipeline.runtimes.layers import GeometricEnsemble, TextClassifier

BERT_INPUT_SPEC = {
    "token_ids": tf.TensorSpec((None, None), tf.int32),
    "padding_mask": tf.TensorSpec((None, None), tf.bool),
    "segment_ids": tf.TensorSpec((None, None), tf.int32),
}


def load_keras_model(path) -> keras.Model:
    """Load a saved end-to-end model with Keras safe_mode on (no arbitrary code runs).

    Args:
        path: the model.keras file.

    Returns:
        The keras.Model; its custom classes are those of pipeline.runtimes.layers.
    """
    return keras.saving.load_model(path, safe_mode=True)


def as_model_input(texts: list[str]) -> np.ndarray:
    """Texts as the string tensor a saved model takes."""
    # Text that is not valid UTF-8 (lone surrogates) is replaced, not allowed to crash.
    return np.array([t.encode("utf-8", "replace") for t in texts], dtype=object)


def keras_forward(model) -> Callable[[list[str]], np.ndarray]:
    """Probabilities from an end-to-end Keras model, through one traced graph.

    Args:
        model: a model mapping a batch of strings to class probabilities.

    Returns:
        A function mapping a list of texts to an array (n, classes).
    """
    # One traced graph for every batch size; calling the model eagerly is far slower.
    infer = tf.function(
        lambda texts: model(texts, training=False),
        input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string)],
        reduce_retracing=True,
    )
    return lambda texts: infer(as_model_input(texts)).numpy()


def serving_forward(model, compile_in_background: bool = True, max_compiled=None):
    """The fastest Keras serving function for a loaded model: texts -> probabilities.

    Args:
        model: the loaded end-to-end model.
        compile_in_background: see TieredNetwork (transformers and pairs only).
        max_compiled: see TieredNetwork (transformers and pairs only).

    Returns:
        A function mapping a list of texts to an array (n, classes).
    """
    if isinstance(model, GeometricEnsemble):
        return pair_forward(model, compile_in_background, max_compiled)
    if isinstance(model, TextClassifier):
        return transformer_forward(model, compile_in_background, max_compiled)
    return keras_forward(model)


# Compiled XLA programs a process keeps at most (memory); see the module's docstring.
MAX_COMPILED_SHAPES = 16


class TieredNetwork:
    """A Keras network called through XLA for shapes it has compiled, plain graph otherwise.

    Args:
        network: the BERT-inputs -> probabilities model.
        compile_in_background: False compiles a new shape before answering (for tests and
            for benchmarks that time the compiled path alone).
        max_compiled: the most shapes compiled; None for MAX_COMPILED_SHAPES, 0 for the
            plain graph only (training's one-off evaluations, which need no compiled
            programs left in memory).
    """

    def __init__(self, network, compile_in_background: bool = True, max_compiled=None):
        self.background = compile_in_background
        self.max_compiled = MAX_COMPILED_SHAPES if max_compiled is None else max_compiled
        plain = tf.function(
            lambda inputs: network(inputs, training=False), input_signature=[BERT_INPUT_SPEC]
        )
        # The layers are traced once, here; the XLA function wraps that same graph, so a
        # shape's compilation only compiles (it traces nothing and barely needs the GIL).
        self.plain = plain.get_concrete_function()
        # XLA fuses the int8 weights' rescaling into the matmuls, and the rest of each
        # layer: faster than the plain graph here (bench/serving_transformer.py). It
        # compiles each shape once.
        self.compiled = tf.function(
            lambda inputs: self.plain(inputs), input_signature=[BERT_INPUT_SPEC], jit_compile=True
        )
        self.ready: set[tuple] = set()
        self._pending: set[tuple] = set()
        self._lock = threading.Lock()
        self._compiler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xla-compile")

    def __call__(self, inputs: dict) -> np.ndarray:
        shape = tuple(inputs["token_ids"].shape)
        if shape in self.ready:
            return self.compiled(inputs).numpy()
        if not self.background and len(self.ready) < self.max_compiled:
            self._compile(shape, inputs)
            return self.compiled(inputs).numpy()
        with self._lock:
            start = shape not in self._pending and len(self._pending) < self.max_compiled
            if start:
                self._pending.add(shape)
        if start:
            self._compiler.submit(self._compile, shape, inputs)
        return self.plain(inputs).numpy()

    def _compile(self, shape: tuple, inputs: dict) -> None:
        self.compiled(inputs)  # compiles this shape's program (and runs it once)
        self.ready.add(shape)

    def wait(self) -> None:
        """Block until every compilation started so far has finished."""
        self._compiler.submit(lambda: None).result()


def transformer_forward(model, compile_in_background: bool = True, max_compiled=None):
    """Texts -> probabilities through the model's own layers, padding trimmed per batch.

    tests/test_transformer.py checks it against the saved model called directly.

    Args:
        model: a loaded end-to-end `minilm` or `minilm-frozen` model.
        compile_in_background: see TieredNetwork.
        max_compiled: see TieredNetwork.

    Returns:
        A function mapping a list of texts to an array (n, classes); its `network`
        attribute is the TieredNetwork.
    """
    cleaner, packer, network = model.cleaner, model.packer, model.network
    tokenize_graph = tf.function(
        lambda texts: packer(cleaner(texts))["token_ids"],
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tiered = TieredNetwork(network, compile_in_background, max_compiled)

    def forward(texts: list[str]) -> np.ndarray:
        token_ids = tokenize_graph(as_model_input(texts)).numpy()
        out = np.empty((len(texts), network.output_shape[-1]), dtype="float32")
        for index in length_batches(token_lengths(token_ids), SERVING_BATCH):
            batch = pad_rows(trim(token_ids[index]))
            out[index] = tiered(bert_inputs(batch))[: len(index)]
        return out

    forward.network = tiered
    return forward


def pad_rows(token_ids: np.ndarray) -> np.ndarray:
    """Repeat the first row up to the next power of two, so XLA compiles few batch shapes.

    Without it every batch size (an explanation of a 17-word text is a batch of 18) would
    compile a program of its own, each taking a second and memory that is never freed.
    Splitting a batch into power-of-two chunks instead (17 as 16 + 1) was tried and was no
    faster beyond the spread of repeated runs (bench/load.py), so the simpler padding stays.
    """
    rows = len(token_ids)
    wanted = 1 << max(0, rows - 1).bit_length()
    if wanted == rows:
        return token_ids
    return np.concatenate([token_ids, np.repeat(token_ids[:1], wanted - rows, axis=0)])


def pair_forward(model: GeometricEnsemble, compile_in_background: bool = True, max_compiled=None):
    """Texts -> probabilities: each member's own serving path, combined as in its `call`.

    The transformer runs through transformer_forward, fasttext through its NumPy forward pass
    (pipeline.runtimes.numpy_model, a tenth of a millisecond a text).

    Args:
        model: a loaded GeometricEnsemble.
        compile_in_background: see TieredNetwork.
        max_compiled: see TieredNetwork.

    Returns:
        A function mapping a list of texts to an array (n, classes); its `network`
        attribute is the transformer member's TieredNetwork.
    """
    minilm, fasttext = model.members
    forwards = [
        transformer_forward(minilm, compile_in_background, max_compiled),
        numpy_model.from_keras(fasttext).predict_proba,
    ]

    def forward(texts: list[str]) -> np.ndarray:
        answers = [member_forward(texts) for member_forward in forwards]
        return combine(answers, model.member_weights, model.temperature)

    forward.network = forwards[0].network
    return forward
