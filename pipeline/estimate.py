"""How long a training run will take, so an experimenter can choose a recipe knowingly."""

from pipeline import config
from pipeline.registry import Registry

# Seconds of a whole train-and-save job (fitting, evaluation, the LiteRT copy, calibration,
# analysis, the baseline) per training row with each recipe's defaults, on the GOP data (9,908
# training rows), on a 2-core machine: `python bench/training.py`, each run's start of saving
# (docs/benchmarks.md). The tutorial's lstm is its 2-epoch job with the fitting scaled to its
# 10 epochs; minilm-frozen is timed without cached embeddings.
REFERENCE_SECONDS_PER_ROW = {
    "fasttext": 19.9 / 9908,
    "lstm": 100.9 / 9908,
    "minilm": 357.5 / 9908,
    "minilm-frozen": 121.6 / 9908,
    "minilm+fasttext": 319.3 / 9908,
}


def expected_training_seconds(
    registry: Registry, architecture: str, data_rows: int
) -> tuple[float, str]:
    """The expected training time for a data set, and what the estimate rests on.

    The estimate is for the recipe's defaults, which do no final refit. The newest version
    of the same architecture in the registry that recorded its whole job's time, and was not
    refit (a refit about doubles it), gives the rate when there is one (it was most likely
    trained on this machine); otherwise the reference figures above.

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
        # Versions without `job_seconds` recorded only the fitting time, on whichever machine
        # trained them: they give no rate.
        seconds = meta.get("job_seconds")
        refit = "refit" in meta
        if meta.get("architecture") == architecture and seconds and sizes and not refit:
            rate = seconds / max(1, sizes["train"])
            return rate * train_rows, f"at the rate of version {meta['version']}"
    return REFERENCE_SECONDS_PER_ROW[architecture] * train_rows, "on a 2-core machine"


def describe_duration(seconds: float) -> str:
    """ "about 40 s", "about 8 min"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def format_duration(seconds: float) -> str:
    """A measured duration: "7 s", "4 min 05 s"."""
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"
