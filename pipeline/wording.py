"""How counts and rates are said to people: "1 text", "2 texts", "1,982 rows", "93.8 %"."""


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """A count and its noun, singular for exactly 1.

    Args:
        count: how many.
        noun: the singular ("text").
        plural_noun: the plural when it is not the noun plus "s" ("analyses").

    Returns:
        e.g. "1 version", "2 versions", "1,982 rows".
    """
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


def percent(rate: float | None) -> str:
    """A rate as people read it: 0.9375 -> "93.8 %"; None (no rate) -> "n/a"."""
    return "n/a" if rate is None else f"{rate * 100:.1f} %"
