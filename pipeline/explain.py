"""Word-level explanations by occlusion: drop each word and see how the prediction moves."""

import numpy as np

MAX_EXPLAINED_WORDS = 200


def explain_by_occlusion(predictor, text: str, max_words: int = MAX_EXPLAINED_WORDS) -> dict:
    """Which words push the prediction toward which class.

    Each word (a whitespace-separated piece of the raw text) is removed in turn, and all
    the variants are scored in one batch. A word's effect on a class is how much that
    class's probability falls when the word is removed.

    Args:
        predictor: a loaded Predictor.
        text: the raw text.
        max_words: only the first this many words are explained; the rest are kept as is.

    Returns:
        {"label": predicted label, "probability": its probability, "probabilities": every
        class's probability, "words": [{"word",
        "toward" (the class it raises most), "weight" (that rise, >= 0), "effect" (its
        effect on the predicted class, signed)}]}.
    """
    words = text.split()
    explained = words[:max_words]
    variants = [text] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(explained))]
    probabilities = predictor.predict_proba(variants)
    full = probabilities[0]
    predicted = int(np.argmax(full))
    raises = full - probabilities[1:]  # (words, classes): what each word adds to each class
    return {
        "label": predictor.labels[predicted],
        "probability": float(full[predicted]),
        "probabilities": {label: float(p) for label, p in zip(predictor.labels, full, strict=True)},
        "words": [
            {
                "word": word,
                "toward": predictor.labels[int(np.argmax(raise_))],
                "weight": float(max(raise_.max(), 0.0)),
                "effect": float(raise_[predicted]),
            }
            for word, raise_ in zip(explained, raises, strict=True)
        ]
        + [
            {"word": word, "toward": None, "weight": 0.0, "effect": 0.0}
            for word in words[max_words:]
        ],
    }
