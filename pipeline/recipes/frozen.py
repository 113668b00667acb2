"""The `minilm-frozen` recipe: the pretrained encoder kept fixed, only a softmax head trained.

Teachable Machine's method, for small data: each text's sentence embedding (the mean of
MiniLM's token outputs) is computed once and cached on disk, keyed by the encoder's
weights, the sequence length, the cleaning rules and the text, so a retrain on the same or
overlapping rows only trains the head: seconds. The saved model is the same
TextClassifier as `minilm`'s, raw strings in, so serving and export need nothing new.
TensorFlow is imported inside the functions that train.
"""

import threading
from dataclasses import dataclass

import numpy as np

from pipeline.errors import TrainingCancelled
from pipeline.recipes.base import Recipe
from pipeline.recipes.encoder import (
    SERVING_BATCH,
    EmbeddingCache,
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
from pipeline.recipes.transformer import (
    EncoderParams,
    build_end_to_end,
    build_network,
    count_weights,
    quantize,
    with_temperature,
)


@dataclass(frozen=True)
class FrozenParams(EncoderParams):
    """Only a head trains, on cached embeddings: many quick epochs at a higher rate."""

    sequence_length: int = 128
    dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.003
    class_weighting: str = "sqrt"
    patience: int = 5


def embed(texts: list[str], pooled_encoder, cleaner, packer, report, stop_event) -> np.ndarray:
    """Sentence embeddings of texts, in length-sorted batches, reporting progress."""
    token_ids = tokenize(cleaner, packer, texts)
    out = np.empty((len(texts), pooled_encoder.output_shape[-1]), dtype="float32")
    batches = length_batches(token_lengths(token_ids), SERVING_BATCH)
    for done, index in enumerate(batches, start=1):
        if stop_event.is_set():
            raise TrainingCancelled("Training was cancelled; nothing was saved.")
        out[index] = np.asarray(pooled_encoder(bert_inputs(trim(token_ids[index]))))
        report({"event": "embedding", "batch": done, "steps": len(batches)})
    return out


def cached_embeddings(splits, length, backbone, cleaner, packer, report, stop_event):
    """Training and validation embeddings, computing only those not cached yet."""
    info = encoder_info()
    cleaning = [[list(r) for r in cleaner.rules], [list(c) for c in cleaner.characters]]
    cache = EmbeddingCache(info["weights_sha256"], length, cleaning)
    texts = splits.train["text"].tolist() + splits.validation["text"].tolist()
    missing = cache.missing(texts)
    if missing:
        pooled_encoder = build_pooled_encoder(backbone)
        cache.add(missing, embed(missing, pooled_encoder, cleaner, packer, report, stop_event))
        cache.save()
    return cache.get(splits.train["text"].tolist()), cache.get(splits.validation["text"].tolist())


def fit(splits, labels: list[str], params: FrozenParams, report=None, stop_event=None):
    """Train a softmax head on cached sentence embeddings of the frozen encoder.

    Args:
        splits: the leakage-free split.
        labels: the label order.
        params: validated hyperparameters.
        report: progress callback, see fitting.ProgressCallback.
        stop_event: set it to cancel; TrainingCancelled is raised.

    Returns:
        The end-to-end model, the per-epoch history, and extras for the metadata.
    """
    from pipeline.backend import keras
    from pipeline.recipes.fitting import class_weights, encoded_splits, training_callbacks

    stop_event = stop_event or threading.Event()
    report = report or (lambda event: None)
    keras.utils.set_random_seed(params.seed)
    backbone, tokenizer = load_encoder()
    report({"event": "tokenizing"})
    length = choose_sequence_length(splits.train["text"], tokenizer, params.sequence_length)
    cleaner, packer = build_text_encoder(tokenizer, length)
    x_train, x_val = cached_embeddings(
        splits, length, backbone, cleaner, packer, report, stop_event
    )
    y_train, y_val = encoded_splits(splits, labels)
    head = keras.Sequential(
        [
            keras.Input((x_train.shape[1],)),
            keras.layers.Dropout(params.dropout, name="head_dropout"),
            keras.layers.Dense(len(labels), activation="softmax", name="head"),
        ]
    )
    head.compile(
        optimizer=keras.optimizers.AdamW(params.learning_rate, params.weight_decay),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = head.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=params.epochs,
        batch_size=params.batch_size,
        class_weight=class_weights(y_train, params.class_weighting),
        callbacks=training_callbacks(params, report, stop_event),
        verbose=0,
    )
    if stop_event.is_set():
        raise TrainingCancelled("Training was cancelled; nothing was saved.")
    network = build_network(backbone, len(labels), params.dropout)
    network.get_layer("head").set_weights(head.get_layer("head").get_weights())
    extras = {"encoder": encoder_info(), "sequence_length_used": length, "encoder_frozen": True}
    return build_end_to_end(cleaner, packer, network), history.history, extras


MINILM_FROZEN = Recipe(
    name="minilm-frozen",
    help="the pretrained MiniLM kept fixed, only a softmax head trained on its "
    "cached sentence embeddings: seconds to train once cached; on the GOP tweets the best "
    "recipe with 1,000 labelled rows or fewer (on the Apple tweets only at 100 rows)",
    params=FrozenParams,
    # `python bench/training.py` (see Recipe.seconds_per_row), without cached embeddings.
    seconds_per_row=121.6 / 9908,
    fit=fit,
    count_weights=count_weights,
    explains_at_once=False,
    with_temperature=with_temperature,
    quantize=quantize,
)
