"""Model building: the in-graph text cleaning, the vectorizer and the networks, by name.

The saved artifact takes raw strings: `build_end_to_end` puts the vectorizer (with its
vocabulary and the cleaning rules of pipeline.text) in front of the trained network, so
serving can never drift from training.
"""

from pipeline.backend import keras, tf
from pipeline.text import CLEANING_RULES, TEXT_END, TEXT_START

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


@keras.saving.register_keras_serializable(package="sentiment", name="clean_text_bounded")
def clean_text_bounded_tf(texts: tf.Tensor) -> tf.Tensor:
    """`clean_text_tf` between boundary marks, as pipeline.text.clean_text_bounded does.

    The marks give character n-grams at the start and end of the text (as fastText's word
    boundaries do), and give every text, even an empty one, at least one n-gram, so the
    averaged embedding is never an average over nothing.
    """
    return tf.strings.join([TEXT_START, clean_text_tf(texts), TEXT_END])


# What each architecture's vectorizer emits. Character 3- to 5-grams of the cleaned text
# catch misspellings, elongations ("sooo") and run-together hashtags that whole words miss;
# they measured best on validation (README, "Choosing the default").
TOKENIZATION = {
    "fasttext": {"standardize": clean_text_bounded_tf, "split": "character", "ngrams": (3, 4, 5)},
    "lstm": {"standardize": clean_text_tf, "split": "whitespace", "ngrams": None},
}


def build_vectorizer(params: dict) -> layers.TextVectorization:
    """A vectorizer that turns raw strings into padded sequences of token ids.

    Args:
        params: validated hyperparameters (architecture, vocab_size, sequence_length).

    Returns:
        An un-adapted TextVectorization layer.
    """
    return layers.TextVectorization(
        max_tokens=params["vocab_size"],
        output_mode="int",
        output_sequence_length=params["sequence_length"],
        name="vectorizer",
        **TOKENIZATION[params["architecture"]],
    )


def _fasttext(params: dict, n_classes: int) -> list[layers.Layer]:
    # Averaged n-gram embeddings (fastText style): more accurate than the LSTM here, and an
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
    """The network, which takes token-id sequences; not compiled.

    Args:
        params: validated hyperparameters; `architecture` picks the network.
        n_classes: how many labels to predict.

    Returns:
        An uncompiled Keras model.
    """
    network = NETWORKS[params["architecture"]](params, n_classes)
    return keras.Sequential(
        [keras.Input(shape=(params["sequence_length"],), dtype="int64"), *network],
        name=params["architecture"],
    )


def compile_classifier(classifier: keras.Model, params: dict) -> keras.Model:
    """Compile a network for training with Adam and cross-entropy.

    Args:
        classifier: from build_classifier.
        params: validated hyperparameters (learning_rate).

    Returns:
        The same model, compiled.
    """
    classifier.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return classifier


def build_end_to_end(
    vectorizer: layers.TextVectorization, classifier: keras.Model, params: dict
) -> keras.Model:
    """Join the adapted vectorizer and the trained network into one raw-string model.

    Args:
        vectorizer: an adapted TextVectorization layer.
        classifier: the trained network.
        params: the hyperparameters it was built with.

    Returns:
        A model mapping a batch of strings, shape (n,), to class probabilities (n, classes).
    """
    # The trained weights go into a fresh, uncompiled copy of the network, so the optimizer
    # state (twice the size of the weights) is not saved with the model.
    network = build_classifier(params, classifier.output_shape[-1])
    network.set_weights(classifier.get_weights())
    texts = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(texts, network(vectorizer(texts)), name="sentiment")
