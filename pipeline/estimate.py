"""How long a training run will take, so an experimenter can choose a recipe knowingly."""

from pipeline import config
from pipeline.recipes import get_recipe
from pipeline.registry import Registry


def expected_training_seconds(
    registry: Registry, architecture: str, data_rows: int
) -> tuple[float, str]:
    """The expected training time for a data set, and what the estimate rests on.

    The estimate is for the recipe's defaults, which do no final refit. The newest version
    of the same architecture in the registry that recorded its whole job's time, and was not
    refit (a refit about doubles it), gives the rate when there is one (it was most likely
    trained on this machine); otherwise the recipe's reference (Recipe.seconds_per_row).

    Args:
        registry: the models folder.
        architecture: a registered recipe's name.
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
    return get_recipe(architecture).seconds_per_row * train_rows, "on a 2-core machine"


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
