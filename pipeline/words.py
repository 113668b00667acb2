"""How counts read in messages: "1 trial", "2 trials", "14,000 rows"."""


def count_of(count: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun, singular for exactly one and plural otherwise.

    Args:
        count: how many.
        noun: the singular, e.g. "trial" or "corrected prediction".
        plural: the plural when it is not the noun plus "s", e.g. "copies".

    Returns:
        e.g. "1 trial", "0 trials", "1,250 trials".
    """
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
