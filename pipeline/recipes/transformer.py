"""The `minilm` recipe: the pretrained MiniLM encoder fine-tuned end to end, with a softmax head.

Network: cleaning (light, pipeline.text.TRANSFORMER_RULES) -> WordPiece tokenizer and
packer (keras-hub) -> BERT backbone -> mean of the real tokens -> dropout -> softmax (->
temperature scaling, when calibration keeps one: pipeline.train.calibrate). It is trained
the way BERT fine-tuning is: AdamW with weight decay (not on biases and layer norms), a
linear warm-up then cosine decay, gradient clipping, class weights, early stopping on
validation loss, and batches of similar length so little compute goes to padding. The saved
model takes raw strings (pipeline.runtimes.layers.TextClassifier); the Keras serving path
(pipeline.runtimes.keras_model) runs the same layers with the padding trimmed per batch.

TensorFlow and keras-hub are imported inside the functions that build or train.
"""

import json
import math
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from pipeline import config
from pipeline.errors import ParameterError, TrainingCancelled
from pipeline.recipes.base import Recipe, TrainingParams, param
from pipeline.recipes.encoder import (
    SERVING_BATCH,
    bert_inputs,
    build_pooled_encoder,
    build_text_encoder,
    choose_sequence_length,
    encoder_info,
    length_batches,
    load_encoder,
    token_lengths,
    tokenize,
    trim,
)


@dataclass(frozen=True)
class EncoderParams(TrainingParams):
    """What every recipe with the pretrained encoder declares (`minilm-frozen` too)."""

    weight_decay: float = param(
        0.01, "AdamW weight decay (not on biases and layer norms)", 0.0, 0.3, searched=True
    )
    quantize: str = param(
        "none",
        "store the transformer's dense layers and embeddings as int8 weights (a quarter of "
        "the file; the arithmetic stays float, as in its LiteRT copy)",
        choices=("none", "int8"),
    )
    # Serving only: it changes nothing a sweep's trial is scored on.
    lite_copy: bool = param(
        True,
        "also save a LiteRT copy of the transformer, served without TensorFlow (far less "
        "memory, a faster start) if it gives the Keras model's label on 99.5% of the "
        "validation and test texts",
        searchable=False,
    )


@dataclass(frozen=True)
class MinilmParams(EncoderParams):
    """Fine-tuning settings as serious BERT fine-tuning uses them (AdamW, warm-up, a small
    learning rate, few epochs); the defaults were chosen on validation
    (bench/compare_models.py)."""

    warmup_share: float = param(
        0.1,
        "share of the steps over which the learning rate warms up, before a cosine decay",
        0.0, 0.5, searched=True,
    )  # fmt: skip
    token_embeddings: str = param(
        "fixed",
        "keep the encoder's token embedding table (11.7 M of its 22.7 M weights) as "
        "pretrained, or fine-tune it too; fixed scored the same on validation "
        "(bench/compare_models.py), makes a step about 10 % faster and lowers training's "
        "peak memory by 50 to 120 MiB",
        choices=("train", "fixed"),
    )
    layer_decay: float = param(
        1.0,
        "layer-wise learning-rate decay: the head trains at the learning rate, each encoder "
        "layer below it at this times the rate of the layer above, the embeddings lowest; "
        "1 = one rate for all",
        0.5, 1.0,
    )  # fmt: skip
    ema_momentum: float = param(
        0.0,
        "keep an exponential moving average of the weights with this momentum (e.g. 0.99, "
        "about the last 100 steps) and validate, stop early on and save the average; 0 = off",
        0.0, 0.9999,
    )  # fmt: skip
    sequence_length: int = 128
    dropout: float = 0.1
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 8e-5
    class_weighting: str = "sqrt"
    patience: int = 1
    quantize: str = "int8"


MAX_POSITIONS = 512


def build_network(backbone, n_classes: int, dropout: float):
    """BERT inputs -> mean-pooled encoder -> dropout -> softmax, named "network"."""
    from pipeline.backend import keras

    pooled_encoder = build_pooled_encoder(backbone)
    inputs = {
        "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((None,), dtype="bool", name="padding_mask"),
        "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
    }
    pooled = pooled_encoder(inputs)
    pooled = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    probabilities = keras.layers.Dense(
        n_classes, activation="softmax", dtype="float32", name="head"
    )(pooled)
    return keras.Model(inputs, probabilities, name="network")


def build_end_to_end(cleaner, packer, network):
    """Join cleaning, the tokenizer and the trained network into one model for saving.

    The weights go into a fresh float32 copy of the network, so neither the optimizer's
    state (twice the weights) nor a GPU run's mixed-precision policy is saved with it.

    Returns:
        A pipeline.runtimes.layers.TextClassifier.
    """
    from pipeline.backend import keras_hub
    from pipeline.runtimes.layers import TextClassifier

    backbone = next(
        layer
        for layer in network.get_layer("pooled_encoder").layers
        if isinstance(layer, keras_hub.models.Backbone)
    )
    fresh_backbone = type(backbone).from_config({**backbone.get_config(), "dtype": "float32"})
    head = network.get_layer("head")
    fresh = build_network(fresh_backbone, head.units, network.get_layer("head_dropout").rate)
    fresh.set_weights(network.get_weights())
    return TextClassifier(cleaner, packer, fresh, name="sentiment")


def with_temperature(model, temperature: float):
    """The TextClassifier with temperature scaling at the end of its network.

    It goes inside `network`, not after the whole model, because the Keras serving path
    (pipeline.runtimes.keras_model.transformer_forward) runs the network alone (after
    tokenizing outside it).
    """
    from pipeline.runtimes.layers import TextClassifier, add_temperature

    network = add_temperature(model.network, temperature)
    return TextClassifier(
        model.cleaner, model.packer, network, model.float_activations, name=model.name
    )


def quantize(model) -> None:
    """Store the network's dense layers and embeddings in int8, computing in float.

    Weights-only int8 (Keras quantize without an activation quantizer): a quarter of the
    file size (the shipped version is committed to git), and the same function as the
    LiteRT copy converted from it (pipeline.runtimes.lite), so both serving paths give the
    same labels. Keras's default int8 also quantizes each layer's inputs per call, which
    LiteRT does its own way, and copies of such a model disagreed with it on about 1 % of the
    GOP labels (the LiteRT check at saving, recipes.lite_convert.check_copy, measures it).

    Args:
        model: a TextClassifier (pipeline.runtimes.layers).
    """
    from pipeline.backend import keras
    from pipeline.runtimes.layers import use_float_activations

    weights_only = keras.quantizers.Int8QuantizationConfig(activation_quantizer=None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Layer .* does not have a `quantize` method")
        model.network.quantize("int8", config=weights_only)
    model.float_activations = True
    use_float_activations(model.network)  # the layers keras-hub builds without the config


def _check(params: EncoderParams) -> None:
    if params.sequence_length > MAX_POSITIONS:
        raise ParameterError(
            f"sequence_length is at most {MAX_POSITIONS} for {params.architecture} (the "
            f"encoder's positions); got {params.sequence_length}."
        )


def count_weights(params: EncoderParams, n_classes: int) -> int:
    """The encoder's weights plus the softmax head's, read from the preset's config."""
    from pipeline.backend import keras_hub

    backbone_config = json.loads((config.encoder_dir() / "config.json").read_text())["config"]
    backbone = keras_hub.models.BertBackbone.from_config(backbone_config)
    return backbone.count_params() + (backbone.hidden_dim + 1) * n_classes


def batches_dataset(token_ids, y=None, weights=None, batch_size=32, seed=None):
    """Length-bucketed batches of BERT inputs (and labels and sample weights): a tf.data
    Dataset. With a seed, every pass draws a new random order (see encoder.length_batches).
    """
    from pipeline.backend import tf
    from pipeline.runtimes.keras_model import BERT_INPUT_SPEC

    lengths = token_lengths(token_ids)
    rng = None if seed is None else np.random.default_rng(seed)

    def generate():
        for index in length_batches(lengths, batch_size, rng):
            inputs = bert_inputs(trim(token_ids[index]))
            yield (inputs,) if y is None else (inputs, y[index], weights[index])

    spec = BERT_INPUT_SPEC
    signature = (spec,) if y is None else (spec, tf.TensorSpec((None,), tf.int64),
                                           tf.TensorSpec((None,), tf.float32))  # fmt: skip
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    # Training repeats (each pass a new order), so steps_per_epoch can give progress a total.
    return (dataset if seed is None else dataset.repeat()).prefetch(2)


def num_layers(network) -> int:
    """The transformer layers of the network's encoder."""
    from pipeline.backend import keras_hub

    encoder = network.get_layer("pooled_encoder")
    return next(
        layer.num_layers for layer in encoder.layers if isinstance(layer, keras_hub.models.Backbone)
    )


def uses_accelerator() -> bool:
    """Whether TensorFlow sees a GPU (training then uses mixed precision)."""
    from pipeline.backend import tf

    return bool(tf.config.list_physical_devices("GPU"))


def fit(splits, labels: list[str], params: MinilmParams, report=None, stop_event=None):
    """Fine-tune the encoder and a softmax head on the training part.

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters.
        report: progress callback, see fitting.ProgressCallback.
        stop_event: set it to cancel (after the current batch); TrainingCancelled is raised.

    Returns:
        The end-to-end model, the per-epoch history, and extras for the metadata
        (the encoder's source and the sequence length chosen).
    """
    from pipeline.backend import keras

    _check(params)
    stop_event = stop_event or threading.Event()
    report = report or (lambda event: None)
    keras.utils.set_random_seed(params.seed)
    if uses_accelerator():
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        backbone, tokenizer = load_encoder()
        report({"event": "tokenizing"})
        cap = params.sequence_length
        length = choose_sequence_length(splits.train["text"], tokenizer, cap)
        cleaner, packer = build_text_encoder(tokenizer, length)
        network = build_network(backbone, len(labels), params.dropout)
        # Kept fixed only while fitting: the saved model's layers are all trainable as before.
        backbone.token_embedding.trainable = params.token_embeddings == "train"
        history = _fit_network(network, splits, labels, cleaner, packer, params, report, stop_event)
        backbone.token_embedding.trainable = True
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    extras = {"encoder": encoder_info(), "sequence_length_used": length}
    return build_end_to_end(cleaner, packer, network), history, extras


def _fit_network(network, splits, labels, cleaner, packer, params, report, stop_event) -> dict:
    from pipeline.recipes.fitting import (
        class_weights,
        encoded_splits,
        release_training_state,
        training_callbacks,
    )
    from pipeline.recipes.optimizer import averaging_callbacks, make_optimizer

    train_ids = tokenize(cleaner, packer, splits.train["text"].tolist())
    val_ids = tokenize(cleaner, packer, splits.validation["text"].tolist())
    y_train, y_val = encoded_splits(splits, labels)
    weights = class_weights(y_train, params.class_weighting) or {}
    sample_weights = np.array([weights.get(int(c), 1.0) for c in y_train], dtype="float32")
    steps = math.ceil(len(y_train) / params.batch_size)
    network.compile(
        optimizer=make_optimizer(params, steps * params.epochs, num_layers(network)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # No XLA: with batches trimmed to their length it gave no faster step, and compiling
        # each length raised the training peak by about 1 GiB (bench/training.py).
        jit_compile=False,
    )
    train = batches_dataset(train_ids, y_train, sample_weights, params.batch_size, params.seed)
    validation = batches_dataset(val_ids, y_val, np.ones(len(y_val), "float32"), SERVING_BATCH)
    with warnings.catch_warnings():
        # The backbone's pooler layer feeds nothing under mean pooling, so it gets no gradient.
        warnings.filterwarnings("ignore", "Gradients do not exist for variables")
        history = network.fit(
            train,
            validation_data=validation,
            validation_steps=len(length_batches(token_lengths(val_ids), SERVING_BATCH)),
            epochs=params.epochs,
            steps_per_epoch=steps,
            callbacks=[
                *averaging_callbacks(params),  # before early stopping (see there)
                *training_callbacks(params, report, stop_event),
            ],
            shuffle=False,  # the batches come shuffled (length_batches)
            verbose=0,
        )
    release_training_state(network)
    return history.history


MINILM = Recipe(
    name="minilm",
    help="the pretrained MiniLM transformer, fine-tuned end to end: the best single network "
    "with 3,000 rows or more (with 1,000 or fewer it lost to minilm-frozen on the "
    "GOP tweets and to fasttext on the Apple tweets), minutes to train",
    params=MinilmParams,
    seconds_per_row=357.5 / 9908,  # `python bench/training.py` (see Recipe.seconds_per_row)
    fit=fit,
    count_weights=count_weights,
    explains_at_once=False,
    with_temperature=with_temperature,
    quantize=quantize,
)
