"""Batching token ids for a transformer: by length, trimmed, in few shapes. No TensorFlow.

Shared by training (pipeline.recipes.transformer), the Keras serving path
(pipeline.runtimes.keras_model) and the LiteRT one (pipeline.runtimes.lite), which runs
without TensorFlow.
"""

import numpy as np

# Token lengths are rounded up to a multiple of this: one compiled graph per bucket.
LENGTH_BUCKET = 16
# Texts per forward pass when embedding, validating or serving.
SERVING_BATCH = 64


def token_lengths(token_ids: np.ndarray) -> np.ndarray:
    """How many real tokens each row of padded token ids holds."""
    return (token_ids != 0).sum(axis=1)


def length_batches(lengths: np.ndarray, batch_size: int, rng=None) -> list[np.ndarray]:
    """Row indices in batches of similar length, so little of each batch is padding.

    Rows are sorted by length within windows of 50 batches, cut into batches, and (with
    `rng`) the windows are drawn at random and the batches shuffled: training still sees
    the data in random order. Without `rng` the order is fully by length (inference).

    Args:
        lengths: each row's token count.
        batch_size: rows per batch.
        rng: a numpy Generator for training; None for inference.

    Returns:
        A list of index arrays.
    """
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    window = len(order) if rng is None else 50 * batch_size
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def trim(token_ids: np.ndarray) -> np.ndarray:
    """Cut the padding columns that no row of the batch uses, to a LENGTH_BUCKET multiple."""
    longest = max(1, int(token_lengths(token_ids).max(initial=1)))
    width = min(token_ids.shape[1], int(np.ceil(longest / LENGTH_BUCKET) * LENGTH_BUCKET))
    return token_ids[:, :width]


def bert_inputs(token_ids) -> dict:
    """The backbone's three inputs from token ids (one segment, 0 is padding)."""
    token_ids = np.asarray(token_ids, dtype="int32")
    return {
        "token_ids": token_ids,
        "padding_mask": token_ids != 0,
        "segment_ids": np.zeros_like(token_ids),
    }
