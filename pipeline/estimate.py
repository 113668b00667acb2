"""How long a training run will take, so an experimenter can choose a recipe knowingly."""

from pipeline import config
from pipeline.registry import Registry

# Seconds of training per training row with each recipe's defaults, measured on the GOP data
# (9,908 training rows) on the 2-core reference machine (README, "Benchmarks"): fasttext 19.7 s,
# the tutorial's lstm 108.5 s, minilm 486 s (2 epochs), minilm-frozen 116 s with no cached
# embeddings (13 s once they are cached), minilm+fasttext 627 s (the shipped version).
REFERENCE_SECONDS_PER_ROW = {
    "fasttext": 19.7 / 9908,
    "lstm": 108.5 / 9908,
    "minilm": 486.0 / 9908,
    "minilm-frozen": 116.0 / 9908,
    "minilm+fasttext": 627.4 / 9908,
}


def expected_training_seconds(
    registry: Registry, architecture: str, data_rows: int
) -> tuple[float, str]:
    """The expected training time for a data set, and what the estimate rests on.

    The newest version of the same architecture in the registry gives the rate when there is
    one (it was trained on this machine, or on the one that made the shipped model);
    otherwise the reference figures above.

    Args:
        registry: the models folder.
        architecture: one of params.ARCHITECTURES.
        data_rows: rows of the labelled data; the training part is 70% of them.

    Returns:
        (seconds, a short phrase naming the source of the rate).
    """
    train_rows = data_rows * (1 - config.VALIDATION_SHARE - config.TEST_SHARE)
    for meta in registry.list():
        sizes = meta.get("split", {}).get("sizes", {})
        # Versions saved before 2026-12-04 recorded only the fitting time.
        seconds = meta.get("job_seconds") or meta.get("train_seconds")
        if meta.get("architecture") == architecture and seconds and sizes:
            rate = seconds / max(1, sizes["train"])
            return rate * train_rows, f"at the rate of version {meta['version']}"
    return REFERENCE_SECONDS_PER_ROW[architecture] * train_rows, "on a 2-core machine"


def describe_duration(seconds: float) -> str:
    """ "about 40 s", "about 8 min"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"
