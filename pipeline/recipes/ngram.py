"""The n-gram recipes, `fasttext` and `lstm`: in-graph cleaning, a vectorizer, a network.

The saved artifact takes raw strings: `build_end_to_end` puts the cleaning rules and the
vectorizer with its vocabulary in front of the trained network, so serving can never drift
from training. TensorFlow is imported inside the functions that build or train.
"""

import threading
from dataclasses import dataclass

from pipeline.errors import ParameterError, TrainingCancelled
from pipeline.recipes.base import Recipe, TrainingParams, param
from pipeline.text import TEXT_END, TEXT_START, emoji_characters


@dataclass(frozen=True)
class FastTextParams(TrainingParams):
    """`fasttext`'s hyperparameters: the shared ones and its vocabulary and embedding."""

    vocab_size: int = param(
        50_000, "largest vocabulary kept by the vectorizer", 500, 100_000,
        log_scale=True, searched=True,
    )  # fmt: skip
    embedding_dim: int = param(32, "size of each token's embedding", 8, 512, log_scale=True)


@dataclass(frozen=True)
class LstmParams(FastTextParams):
    """`lstm` is the tutorial's recipe: vocabulary 2,000, 28 tokens, embedding 128, LSTM 196,
    spatial dropout 0.4, batch 512 for 10 epochs."""

    units: int = param(196, "recurrent units of the LSTM", 8, 1024, log_scale=True)
    vocab_size: int = 2_000
    sequence_length: int = 28
    embedding_dim: int = 128
    dropout: float = 0.4
    epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 0.001
    class_weighting: str = "none"


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


def build_text_encoder(params: FastTextParams):
    """The cleaning layer and a vectorizer that turns cleaned text into token-id sequences.

    Args:
        params: validated hyperparameters (architecture, vocab_size, sequence_length).

    Returns:
        The CleanText layer and an un-adapted TextVectorization layer.
    """
    from pipeline.backend import keras
    from pipeline.runtimes.layers import CleanText

    tokenization = TOKENIZATION[params.architecture]
    vectorizer = keras.layers.TextVectorization(
        max_tokens=params.vocab_size,
        standardize=None,
        output_mode="int",
        output_sequence_length=params.sequence_length,
        name="vectorizer",
        **tokenization["vectorizer"],
    )
    cleaner = CleanText(
        name="clean_text", characters=emoji_characters(), **tokenization["cleaning"]
    )
    return cleaner, vectorizer


def _fasttext(params: FastTextParams, n_classes: int) -> list:
    from pipeline.backend import keras

    layers = keras.layers
    # Averaged n-gram embeddings (fastText style): more accurate than the LSTM here, and an
    # order of magnitude cheaper to train and to run.
    return [
        layers.Embedding(params.vocab_size, params.embedding_dim, mask_zero=True),
        layers.GlobalAveragePooling1D(),
        layers.Dropout(params.dropout),
        layers.Dense(n_classes, activation="softmax"),
    ]


def _lstm(params: LstmParams, n_classes: int) -> list:
    from pipeline.backend import keras

    layers = keras.layers
    # The tutorial's network as published, recurrent dropout included, for comparison.
    return [
        layers.Embedding(params.vocab_size, params.embedding_dim),
        layers.SpatialDropout1D(params.dropout),
        layers.LSTM(params.units, dropout=0.3, recurrent_dropout=0.2, return_sequences=True),
        layers.LSTM(128, dropout=0.2, recurrent_dropout=0.2),
        layers.Dense(n_classes, activation="softmax"),
    ]


NETWORKS = {"fasttext": _fasttext, "lstm": _lstm}


def build_classifier(params: FastTextParams, n_classes: int):
    """The network, which takes token-id sequences; not compiled.

    Args:
        params: validated hyperparameters; `architecture` picks the network.
        n_classes: how many labels to predict.

    Returns:
        An uncompiled Keras model.
    """
    from pipeline.backend import keras

    network = NETWORKS[params.architecture](params, n_classes)
    return keras.Sequential(
        [keras.Input(shape=(params.sequence_length,), dtype="int64"), *network],
        name=params.architecture,
    )


def compile_classifier(classifier, params: FastTextParams):
    """Compile a network for training with Adam and cross-entropy.

    Args:
        classifier: from build_classifier.
        params: validated hyperparameters (learning_rate).

    Returns:
        The same model, compiled.
    """
    from pipeline.backend import keras

    classifier.compile(
        optimizer=keras.optimizers.Adam(params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return classifier


def build_end_to_end(cleaner, vectorizer, classifier, params: FastTextParams):
    """Join cleaning, the adapted vectorizer and the trained network into one model.

    Args:
        cleaner: the CleanText layer.
        vectorizer: an adapted TextVectorization layer.
        classifier: the trained network.
        params: the hyperparameters it was built with.

    Returns:
        A model mapping a batch of strings, shape (n,), to class probabilities (n, classes).
    """
    from pipeline.backend import keras

    # The trained weights go into a fresh, uncompiled copy of the network, so the optimizer
    # state (twice the size of the weights) is not saved with the model.
    network = build_classifier(params, classifier.output_shape[-1])
    network.set_weights(classifier.get_weights())
    texts = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(texts, network(vectorizer(cleaner(texts))), name="sentiment")


def count_weights(params: FastTextParams, n_classes: int) -> int:
    """The network's number of weights, without training it."""
    return build_classifier(params, n_classes).count_params()


def check_model_size(params: FastTextParams, n_classes: int, max_parameters: int) -> int:
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


def fit(splits, labels: list[str], params: FastTextParams, report=None, stop_event=None):
    """Adapt the vectorizer on the training texts and fit the network.

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters.
        report: progress callback, see fitting.ProgressCallback.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The end-to-end model (raw strings in), the per-epoch history and {} (no extras).
    """
    from pipeline.backend import keras, tf
    from pipeline.recipes import fitting

    stop_event = stop_event or threading.Event()
    keras.utils.set_random_seed(params.seed)
    cleaner, vectorizer = build_text_encoder(params)
    train_texts = cleaner(tf.constant(splits.train["text"].tolist()))
    vectorizer.adapt(train_texts)
    # Texts are vectorized once; the network then trains on integer arrays, which is fast.
    x_train = vectorizer(train_texts).numpy()
    x_val = vectorizer(cleaner(tf.constant(splits.validation["text"].tolist()))).numpy()
    y_train, y_val = fitting.encoded_splits(splits, labels)
    classifier = compile_classifier(build_classifier(params, len(labels)), params)
    history = classifier.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=params.epochs,
        batch_size=params.batch_size,
        class_weight=fitting.class_weights(y_train, params.class_weighting),
        callbacks=fitting.training_callbacks(params, report, stop_event),
        shuffle=True,
        verbose=0,
    )
    fitting.release_training_state(classifier)
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    return build_end_to_end(cleaner, vectorizer, classifier, params), history.history, {}


# Timing references: `python bench/training.py` (see Recipe.seconds_per_row). The tutorial's
# lstm is its 2-epoch job with the fitting scaled to its 10 epochs.
FASTTEXT = Recipe(
    name="fasttext",
    help="averaged character n-gram embeddings: trains in seconds, 0.1 ms a text",
    params=FastTextParams,
    seconds_per_row=19.9 / 9908,
    fit=fit,
    count_weights=count_weights,
    check_size=check_model_size,
)
LSTM = Recipe(
    name="lstm",
    help="the tutorial's two-layer LSTM, for comparison",
    params=LstmParams,
    seconds_per_row=100.9 / 9908,
    fit=fit,
    count_weights=count_weights,
    check_size=check_model_size,
)
