"""A recipe that lives only in the tests, declared the way every recipe is: one module with
its hyperparameters, help, timing and `fit`. tests/test_new_recipe.py registers it and finds
it in the CLI, the Retrain form, the sweep space and the registry.

The network: a bag of words (Keras's TextVectorization, TF-IDF weighted) and a softmax layer.
"""

from dataclasses import dataclass

from pipeline.recipes.base import Recipe, TrainingParams, param

NAME = "bag-of-words"


@dataclass(frozen=True)
class BagOfWordsParams(TrainingParams):
    """The shared settings, a few epochs, and the size of the bag."""

    max_words: int = param(
        300, "words kept by the bag-of-words vectorizer", 10, 5_000, log_scale=True, searched=True
    )
    epochs: int = 3


def fit(splits, labels: list[str], params: BagOfWordsParams, report=None, stop_event=None):
    """Adapt the bag on the training texts and fit the softmax layer on it."""
    from pipeline.backend import keras, tf
    from pipeline.recipes import fitting

    keras.utils.set_random_seed(params.seed)
    bag = keras.layers.TextVectorization(params.max_words, output_mode="tf_idf", name="bag")
    bag.adapt(tf.constant(splits.train["text"].tolist()))
    texts = keras.Input(shape=(), dtype="string", name="text")
    dropped = keras.layers.Dropout(params.dropout)(bag(texts))
    model = keras.Model(texts, keras.layers.Dense(len(labels), "softmax")(dropped), name="bag")
    model.compile(keras.optimizers.Adam(params.learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    y_train, y_val = fitting.encoded_splits(splits, labels)

    def batches(part, y):
        texts = tf.constant(part["text"].tolist())
        rows = tf.data.Dataset.from_tensor_slices((texts, y))
        return rows.shuffle(len(y), seed=params.seed).batch(params.batch_size)

    history = model.fit(
        batches(splits.train, y_train),
        validation_data=batches(splits.validation, y_val),
        epochs=params.epochs,
        callbacks=fitting.training_callbacks(params, report, stop_event),
        shuffle=False,  # the batches come shuffled
        verbose=0,
    )
    return model, history.history, {"bag": params.max_words}


def count_weights(params: BagOfWordsParams, n_classes: int) -> int:
    """The softmax layer's weights."""
    return (params.max_words + 1) * n_classes


RECIPE = Recipe(
    name=NAME,
    help="a bag of words and a softmax layer (a recipe that exists only in the tests)",
    params=BagOfWordsParams,
    seconds_per_row=0.001,
    fit=fit,
    count_weights=count_weights,
)
