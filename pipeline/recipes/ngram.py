"""The n-gram recipes, `fasttext` and `lstm`: in-graph cleaning, a vectorizer, a network.

The saved artifact takes raw strings: `build_end_to_end` puts the cleaning rules and the
vectorizer with its vocabulary in front of the trained network, so serving can never drift
from training.
"""

import threading

from pipeline.backend import keras, tf
from pipeline.errors import ParameterError, TrainingCancelled
from pipeline.recipes.base import (
    Recipe,
    class_weights,
    encoded_splits,
    release_training_state,
    training_callbacks,
)
from pipeline.runtimes.layers import CleanText
from pipeline.text import TEXT_END, TEXT_START, emoji_characters

layers = keras.layers


# How each architecture tokenizes. Character 3- to 5-grams of the cleaned text catch
# misspellings, elongations ("sooo") and run-together hashtags that whole words miss; they
# measured best on validation (bench/compare_models.py). The boundary marks give
# n-grams for the start and end of a text (as fastText's word boundaries do) and give every
# text, even an empty one, at least one n-gram, so the averaged embedding is never 0 / 0.
TOKENIZATION = {
    "fasttext": {
        "cleaning": {"prefix": TEXT_START, "suffix": TEXT_END},
        "vectorizer": {"split": "character", "ngrams": (3, 4, 5)},
    },
    "lstm": {"cleaning": {}, "vectorizer": {"split": "whitespace", "ngrams": None}},
}


def build_text_encoder(params: dict) -> tuple[CleanText, layers.TextVectorization]:
    """The cleaning layer and a vectorizer that turns cleaned text into token-id sequences.

    Args:
        params: validated hyperparameters (architecture, vocab_size, sequence_length).

    Returns:
        The CleanText layer and an un-adapted TextVectorization layer.
    """
    tokenization = TOKENIZATION[params["architecture"]]
    vectorizer = layers.TextVectorization(
        max_tokens=params["vocab_size"],
        standardize=None,
        output_mode="int",
        output_sequence_length=params["sequence_length"],
        name="vectorizer",
        **tokenization["vectorizer"],
    )
    cleaner = CleanText(
        name="clean_text", characters=emoji_characters(), **tokenization["cleaning"]
    )
    return cleaner, vectorizer


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
    cleaner: CleanText,
    vectorizer: layers.TextVectorization,
    classifier: keras.Model,
    params: dict,
) -> keras.Model:
    """Join cleaning, the adapted vectorizer and the trained network into one model.

    Args:
        cleaner: the CleanText layer.
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
    return keras.Model(texts, network(vectorizer(cleaner(texts))), name="sentiment")


def count_weights(params: dict, n_classes: int) -> int:
    """The network's number of weights, without training it."""
    return build_classifier(params, n_classes).count_params()


def check_model_size(params: dict, n_classes: int, max_parameters: int) -> int:
    """Refuse a network with more weights than a shared server allows.

    Args:
        params: validated hyperparameters.
        n_classes: how many labels it predicts.
        max_parameters: the most weights allowed.

    Returns:
        The network's number of weights.
    """
    count = count_weights(params, n_classes)
    if count > max_parameters:
        raise ParameterError(
            f"This network would have {count:,} weights, over this server's cap of "
            f"{max_parameters:,}. Lower the vocabulary, embedding or units."
        )
    return count


def fit(splits, labels: list[str], params: dict, report=None, stop_event=None):
    """Adapt the vectorizer on the training texts and fit the network.

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters.
        report: progress callback, see base.ProgressCallback.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The end-to-end model (raw strings in), the per-epoch history and {} (no extras).
    """
    stop_event = stop_event or threading.Event()
    keras.utils.set_random_seed(params["seed"])
    cleaner, vectorizer = build_text_encoder(params)
    train_texts = cleaner(tf.constant(splits.train["text"].tolist()))
    vectorizer.adapt(train_texts)
    # Texts are vectorized once; the network then trains on integer arrays, which is fast.
    x_train = vectorizer(train_texts).numpy()
    x_val = vectorizer(cleaner(tf.constant(splits.validation["text"].tolist()))).numpy()
    y_train, y_val = encoded_splits(splits, labels)
    classifier = compile_classifier(build_classifier(params, len(labels)), params)
    history = classifier.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        class_weight=class_weights(y_train, params["class_weighting"]),
        callbacks=training_callbacks(params, report, stop_event),
        shuffle=True,
        verbose=0,
    )
    release_training_state(classifier)
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    return build_end_to_end(cleaner, vectorizer, classifier, params), history.history, {}


RECIPES = {name: Recipe(name, fit, count_weights) for name in NETWORKS}
