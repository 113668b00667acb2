"""Counts read right: "1 trial", "2 trials", "1 row ... was left out"."""

import pytest

from pipeline.words import count_of


@pytest.mark.parametrize(
    ("count", "noun", "plural", "expected"),
    [
        (1, "trial", None, "1 trial"),
        (0, "trial", None, "0 trials"),
        (2, "fasttext trial", None, "2 fasttext trials"),
        (14_000, "row", None, "14,000 rows"),
        (1, "copy", "copies", "1 copy"),
        (3, "copy", "copies", "3 copies"),
    ],
)
def test_a_count_takes_the_singular_only_for_one(count, noun, plural, expected):
    assert count_of(count, noun, plural) == expected
