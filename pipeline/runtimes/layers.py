"""The Keras classes that saved models refer to by name, and how a temperature is added.

A `.keras` file names each custom class by its registered name ("sentiment>CleanText",
"sentiment>TemperatureScaling", "sentiment>TextClassifier", "sentiment>GeometricEnsemble"),
not by module, so loading needs only this module imported first
(pipeline.runtimes.keras_model.load_keras_model does it). The names must never change:
every saved version, the shipped ones included, refers to them. The recipes build models
from these classes (pipeline/recipes/); the NumPy and LiteRT paths read the same layers'
configs from the file without TensorFlow.
"""

from pipeline.backend import keras, tf
from pipeline.calibration import PROBABILITY_FLOOR
from pipeline.text import CLEANING_RULES

layers = keras.layers


@keras.saving.register_keras_serializable(package="sentiment")
class CleanText(layers.Layer):
    """pipeline.text's cleaning as TensorFlow string ops, at the front of every saved model.

    The emoji table, the rules and the boundary marks are stored in the layer's config,
    inside the `.keras` file, so a saved model keeps the cleaning it was trained with even if
    pipeline/text.py changes later; pipeline.text.Cleaner runs the same config in Python.

    Args:
        rules: (pattern, replacement) pairs, run in order after ASCII lower-casing.
        characters: (code point, replacement) pairs applied first, one code point at a time
            (pipeline.text.emoji_characters); empty in models saved before emoji had names.
        prefix: text put before the cleaned text.
        suffix: text put after it.
    """

    def __init__(
        self, rules=CLEANING_RULES, characters=(), prefix: str = "", suffix: str = "", **kwargs
    ):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.rules = [tuple(rule) for rule in rules]
        self.characters = sorted((int(code), str(text)) for code, text in characters)
        self.prefix = prefix
        self.suffix = suffix

    def _map_characters(self, texts):
        """Replace each code point found in the table by its text (a sorted-array lookup)."""
        codes = tf.constant([code for code, _ in self.characters], dtype=tf.int32)
        names = tf.constant([text for _, text in self.characters])
        pieces = tf.strings.unicode_split(texts, "UTF-8", errors="replace")
        points = tf.strings.unicode_decode(texts, "UTF-8", errors="replace").flat_values
        slot = tf.minimum(tf.searchsorted(codes, points), len(self.characters) - 1)
        found = tf.equal(tf.gather(codes, slot), points)
        mapped = tf.where(found, tf.gather(names, slot), pieces.flat_values)
        return tf.strings.reduce_join(pieces.with_flat_values(mapped), axis=-1)

    def call(self, texts):
        if self.characters:
            texts = self._map_characters(texts)
        texts = tf.strings.lower(texts)
        for pattern, replacement in self.rules:
            texts = tf.strings.regex_replace(texts, pattern, replacement)
        if self.prefix or self.suffix:
            texts = tf.strings.join([self.prefix, texts, self.suffix])
        return texts

    def compute_output_spec(self, texts):
        return keras.KerasTensor(texts.shape, dtype="string")

    def get_config(self):
        return {
            **super().get_config(),
            "rules": [list(rule) for rule in self.rules],
            "characters": [list(pair) for pair in self.characters],
            "prefix": self.prefix,
            "suffix": self.suffix,
        }


@keras.saving.register_keras_serializable(package="sentiment")
class TemperatureScaling(keras.layers.Layer):
    """softmax(log(p) / T) of a model's output probabilities p: temperature scaling.

    T is in the layer's config (config.json of the `.keras` file), where the NumPy serving
    path reads it too; pipeline.calibration.scale_probabilities is the same function.

    Args:
        temperature: T > 0; above 1 softens the probabilities, below 1 sharpens them.
    """

    def __init__(self, temperature: float = 1.0, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def call(self, probabilities):
        ops = keras.ops
        logits = ops.log(ops.clip(probabilities, PROBABILITY_FLOOR, 1.0))
        return ops.softmax(logits / self.temperature, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def add_temperature(model: keras.Model, temperature: float) -> keras.Model:
    """The same functional model with a TemperatureScaling layer on its output.

    The new model holds the same layers (and so the same weights) plus the scaling layer.

    Args:
        model: a functional model whose output is class probabilities.
        temperature: the fitted T.

    Returns:
        A functional model with the same inputs and name.
    """
    scaled = TemperatureScaling(temperature, name="temperature")(model.output)
    return keras.Model(model.input, scaled, name=model.name)


def use_float_activations(network) -> None:
    """Turn off the per-call quantization of the inputs of a network's int8 layers."""
    # Model.quantize walks the layers the same way (nested layers included).
    for layer in network._flatten_layers():
        if getattr(layer, "inputs_quantizer", None) is not None:
            layer.inputs_quantizer = None


@keras.saving.register_keras_serializable(package="sentiment")
class TextClassifier(keras.Model):
    """Raw strings (n,) -> probabilities (n, classes), with the cleaning and tokenizer inside.

    The keras-hub split (preprocessor, backbone, head) as one saved model: the tokenizer's
    vocabulary is a saved asset that is only set after the layers are rebuilt, so the
    preprocessing is held as attributes and run in `call`, as keras-hub's own tasks do,
    rather than traced into a functional graph at load time.

    Args:
        cleaner: a CleanText layer.
        packer: a BertTextClassifierPreprocessor (tokenizer and packing).
        network: BERT inputs -> probabilities (pipeline.recipes.transformer.build_network).
        float_activations: the network's int8 layers take float inputs (weights-only int8,
            see pipeline.recipes.transformer.quantize). Keras keeps that in each layer's
            quantization config, but keras-hub's backbone rebuilds its layers from its own
            arguments when it loads, so the choice is kept here and applied again.
    """

    def __init__(self, cleaner, packer, network, float_activations: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.cleaner, self.packer, self.network = cleaner, packer, network
        self.float_activations = bool(float_activations)
        if self.float_activations:
            use_float_activations(network)
        self.built = True  # every part is already built; nothing to trace

    def build(self, input_shape=None):
        self.built = True

    def call(self, texts, training=False):
        return self.network(self.packer(self.cleaner(texts)), training=training)

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "cleaner": serialize(self.cleaner),
            "packer": serialize(self.packer),
            "network": serialize(self.network),
            "float_activations": self.float_activations,
        }

    @classmethod
    def from_config(cls, config):
        # The packer and the backbone are keras-hub classes, registered by importing it.
        from pipeline.backend import keras_hub  # noqa: F401

        config = dict(config)
        parts = {k: keras.saving.deserialize_keras_object(config.pop(k)) for k in PARTS}
        return cls(**parts, **config)


PARTS = ("cleaner", "packer", "network")


@keras.saving.register_keras_serializable(package="sentiment")
class GeometricEnsemble(keras.Model):
    """Raw strings -> softmax(sum_i w_i log p_i / T): the members' weighted geometric mean.

    Args:
        members: end-to-end models (raw strings in, probabilities out): the transformer, then
            fasttext.
        weights: one weight per member, summing to 1.
        temperature: T of the temperature scaling fitted on the combination (1 = none).
    """

    def __init__(self, members, weights, temperature: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.members = list(members)
        self.member_weights = [float(w) for w in weights]
        self.temperature = float(temperature)
        self.built = True  # every member is already built; nothing to trace

    def build(self, input_shape=None):
        self.built = True

    def call(self, texts, training=False):
        ops = keras.ops
        logs = [
            weight * ops.log(ops.clip(member(texts, training=training), PROBABILITY_FLOOR, 1.0))
            for member, weight in zip(self.members, self.member_weights, strict=True)
        ]
        return ops.softmax(sum(logs) / self.temperature, axis=-1)

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "members": [serialize(member) for member in self.members],
            "weights": self.member_weights,
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [keras.saving.deserialize_keras_object(m) for m in config.pop("members")]
        return cls(members, **config)
