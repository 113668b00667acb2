"""A transformer version's LiteRT copy, made at save time (this half needs TensorFlow).

`to_tflite` converts the network as it is stored, and `check_copy` loads the copy the way
serving does (pipeline.runtimes.lite) and measures how closely it follows the Keras model;
training keeps the copy only if it gives the same label on at least MIN_SAME_LABEL of the
validation and test texts.
"""

import importlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from pipeline.recipes.fitting import release_heap
from pipeline.runtimes.lite import LITE_FILE, open_lite_model

# Serving by LiteRT is kept only if it gives the Keras model's label on at least this share
# of the validation texts (issue 12's bar for any faster path).
MIN_SAME_LABEL = 0.995
SERVING_INPUT, SERVING_OUTPUT = "token_ids", "probabilities"  # freeze's tensors
CHECK_THREADS = os.cpu_count() or 1


def to_tflite(network) -> bytes:
    """Convert a BERT network (token ids -> probabilities) to LiteRT.

    A weights-only int8 network (recipes.transformer.quantize) is converted to the float
    arithmetic it runs in Keras, with its dense kernels unpacked to float32 constants
    (`unpack_int8_weights`) and the embedding tables left in int8 (a lookup reads only the
    rows it needs). No converter quantization is asked for: LiteRT's dynamic-range
    quantization also quantizes activations, its own way, and changed 1.2 % of a GOP
    fine-tune's labels.

    Args:
        network: the recipe's network (inputs token_ids, padding_mask, segment_ids), float32
            or weights-only int8, before calibration (serving applies the temperature).

    Returns:
        The flatbuffer, taking token_ids (batch, length) int32 with 0 for padding.
    """
    from absl import logging as absl_logging  # a TensorFlow dependency

    from pipeline.backend import tf

    graph_def = freeze(network)
    unpack_int8_weights(graph_def)
    verbosity = absl_logging.get_verbosity()  # the converter logs deprecation notices there
    absl_logging.set_verbosity(absl_logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        # From a frozen graph file, not from a concrete function: the converter then reads
        # the graph in C++. That peaked at about a third of the memory that converting from a
        # concrete function (frozen and optimized again in Python) took, with the same
        # flatbuffer (bench/training.py records the whole training's peak).
        frozen = Path(folder, "network.pb")
        frozen.write_bytes(graph_def.SerializeToString())
        del graph_def
        release_heap()
        try:
            converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
                str(frozen), [SERVING_INPUT], [SERVING_OUTPUT]
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return converter.convert()
        finally:
            absl_logging.set_verbosity(verbosity)
            release_heap()


def freeze(network):
    """The network's serving function as a GraphDef, its weights constants.

    The converter needs the weights as constants; Keras 3 variables otherwise stay resource
    variables, which the interpreter would see uninitialised. Input SERVING_INPUT, output
    SERVING_OUTPUT.
    """
    from pipeline.backend import tf  # first: it hides TensorFlow's start-up banner

    constants = importlib.import_module("tensorflow.python.framework.convert_to_constants")

    if any(layer.name == "temperature" for layer in network.layers):
        raise ValueError("convert the network before calibration: serving applies T itself")

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32, name=SERVING_INPUT)])
    def serve(token_ids):
        inputs = {
            "token_ids": token_ids,
            "padding_mask": token_ids != 0,
            "segment_ids": tf.zeros_like(token_ids),
        }
        return tf.identity(network(inputs, training=False), name=SERVING_OUTPUT)

    frozen = constants.convert_variables_to_constants_v2(serve.get_concrete_function())
    return frozen.graph.as_graph_def()


def unpack_int8_weights(graph_def) -> int:
    """Replace each cast of an int8 weight constant by the float constant it gives, in place.

    Keras's weights-only int8 layers compute `cast(kernel) @ x / scale`. Converted as they
    are, the interpreter casts all 10.6 M of MiniLM's dense weights on every call and then
    multiplies by a tensor it cannot pre-pack, about three times slower than with the casts
    folded (bench/serving_transformer.py measures the served speed). TensorFlow's own
    constant folding (grappler's `constfold`) leaves these casts alone, since they make the
    graph bigger. The folded values are exactly the ones the cast computes.

    Returns:
        How many casts were folded.
    """
    from pipeline.backend import tf

    nodes = {node.name: node for node in graph_def.node}

    def constant_behind(name: str):
        node = nodes.get(name.split(":")[0])
        while node is not None and node.op in ("Identity", "IdentityN"):
            output = int(name.split(":")[1]) if ":" in name else 0
            name = node.input[output if node.op == "IdentityN" else 0]
            node = nodes.get(name.split(":")[0])
        return node if node is not None and node.op == "Const" else None

    folded = 0
    for node in graph_def.node:
        if node.op != "Cast" or node.attr["SrcT"].type != tf.int8.as_datatype_enum:
            continue
        source = constant_behind(node.input[0])
        if source is None:
            continue  # a cast of looked-up embedding rows, computed per call
        dtype = tf.as_dtype(node.attr["DstT"].type)
        value = tf.make_ndarray(source.attr["value"].tensor).astype(dtype.as_numpy_dtype)
        node.op = "Const"
        del node.input[:]
        node.attr.clear()
        node.attr["dtype"].type = dtype.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        folded += 1
    return folded


def transformer_network(model):
    """The network a version's LiteRT copy is converted from (a pair's: its transformer's)."""
    return (model.members[0] if hasattr(model, "members") else model).network


def check_copy(model, content: bytes, texts: list[str], expected: np.ndarray) -> dict:
    """How closely a LiteRT copy follows the Keras model it was converted from.

    The copy is loaded as serving loads it (from a saved `.keras` file and the flatbuffer),
    so this also checks that the cleaning, vocabulary, member weights and temperature read
    back.

    Args:
        model: the end-to-end Keras model, as it will be saved (quantized, calibrated).
        content: to_tflite's output, from the same network before calibration.
        texts: texts to compare on (training uses the validation and test parts).
        expected: the Keras serving path's probabilities for them.

    Returns:
        {"texts", "same_label" (share), "largest_difference" (in any probability),
        "kept": whether serving may use the copy (same_label >= MIN_SAME_LABEL)}.
    """
    with tempfile.TemporaryDirectory() as folder:
        model_path, lite_path = Path(folder, "model.keras"), Path(folder, LITE_FILE)
        model.save(model_path)
        lite_path.write_bytes(content)
        # One interpreter on every core, not the serving pool: for one pass over many texts
        # it is nearly as fast as two single-thread interpreters and holds one copy of the
        # weights, not two.
        lite_model = open_lite_model(model_path, lite_path, interpreters=1, threads=CHECK_THREADS)
        got = lite_model.predict_proba(texts)
        del lite_model
    release_heap()  # the interpreter's weights and arena
    same = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1)))
    return {
        "texts": len(texts),
        "same_label": round(same, 5),
        "largest_difference": round(float(np.abs(got - expected).max()), 7),
        "kept": same >= MIN_SAME_LABEL,
    }
