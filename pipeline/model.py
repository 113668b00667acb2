"""Model building: the in-graph text cleaning, the vectorizer and the networks, by name.

The saved artifact takes raw strings: `build_end_to_end` puts the vectorizer (with its
vocabulary and the cleaning rules of pipeline.text) in front of the trained network, so
serving can never drift from training.
"""

from pipeline.backend import keras, tf
from pipeline.text import CLEANING_RULES

layers = keras.layers


@keras.saving.register_keras_serializable(package="sentiment", name="clean_text")
def clean_text_tf(texts: tf.Tensor) -> tf.Tensor:
    """The vectorizer's standardizer: pipeline.text.clean_text as TensorFlow string ops.

    Args:
        texts: a string tensor.

    Returns:
        The cleaned strings, equal to `clean_text` applied to each element.
    """
    texts = tf.strings.lower(texts)
    for pattern, replacement in CLEANING_RULES:
        texts = tf.strings.regex_replace(texts, pattern, replacement)
    return texts


def build_vectorizer(params: dict) -> layers.TextVectorization:
    """A vectorizer that turns raw strings into padded sequences of token ids.

    Args:
        params: validated hyperparameters (vocab_size, sequence_length).

    Returns:
        An un-adapted TextVectorization layer.
    """
    return layers.TextVectorization(
        max_tokens=params["vocab_size"],
        standardize=clean_text_tf,
        split="whitespace",
        output_mode="int",
        output_sequence_length=params["sequence_length"],
        name="vectorizer",
    )


def _fasttext(params: dict, n_classes: int) -> list[layers.Layer]:
    # Averaged token embeddings (fastText style): as accurate as the LSTM here, and an
    # order of magnitude cheaper to train and to run.
    return [
        layers.Embedding(params["vocab_size"], params["embedding_dim"], mask_zero=True),
        layers.GlobalAveragePooling1D(),
        layers.Dropout(params["dropout"]),
        layers.Dense(n_classes, activation="softmax"),
    ]


def _lstm(params: dict, n_classes: int) -> list[layers.Layer]:
    # The tutorial's network as published, recurrent dropout included, for comparison.
    return [
        layers.Embedding(params["vocab_size"], params["embedding_dim"]),
        layers.SpatialDropout1D(params["dropout"]),
        layers.LSTM(params["units"], dropout=0.3, recurrent_dropout=0.2, return_sequences=True),
        layers.LSTM(128, dropout=0.2, recurrent_dropout=0.2),
        layers.Dense(n_classes, activation="softmax"),
    ]


NETWORKS = {"fasttext": _fasttext, "lstm": _lstm}


def build_classifier(params: dict, n_classes: int) -> keras.Model:
    """The trainable network, which takes token-id sequences.

    Args:
        params: validated hyperparameters; `architecture` picks the network.
        n_classes: how many labels to predict.

    Returns:
        A compiled Keras model.
    """
    network = NETWORKS[params["architecture"]](params, n_classes)
    model = keras.Sequential(
        [keras.Input(shape=(params["sequence_length"],), dtype="int64"), *network],
        name=params["architecture"],
    )
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_end_to_end(vectorizer: layers.TextVectorization, classifier: keras.Model) -> keras.Model:
    """Join the adapted vectorizer and the trained network into one raw-string model.

    Args:
        vectorizer: an adapted TextVectorization layer.
        classifier: the trained network.

    Returns:
        A model mapping a batch of strings, shape (n,), to class probabilities (n, classes).
    """
    texts = keras.Input(shape=(), dtype="string", name="text")
    probabilities = classifier(vectorizer(texts))
    return keras.Model(texts, probabilities, name="sentiment")
