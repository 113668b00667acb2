"""The `minilm+fasttext` pair's combination in NumPy, without TensorFlow.

pipeline.runtimes.layers.GeometricEnsemble computes the same in Keras; its Keras serving
path (pipeline.runtimes.keras_model.pair_forward) and the pair's LiteRT path
(pipeline.runtimes.lite) call this.
"""

import numpy as np
from scipy.special import softmax

from pipeline.calibration import PROBABILITY_FLOOR


def combine(member_probabilities: list[np.ndarray], weights, temperature: float) -> np.ndarray:
    """softmax(sum_i w_i log p_i / T): the members' weighted geometric mean, temperature-scaled.

    Args:
        member_probabilities: each member's probabilities, (n, classes).
        weights: one weight per member, summing to 1.
        temperature: T of the temperature scaling fitted on the combination (1 = none).
    """
    logs = sum(
        weight * np.log(np.clip(p, PROBABILITY_FLOOR, 1.0))
        for p, weight in zip(member_probabilities, weights, strict=True)
    )
    return softmax(logs / temperature, axis=1).astype("float32")
