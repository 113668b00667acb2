"""Text cleaning: the rules, the tutorial's bugs as regressions, and Python/TF agreement."""

import pytest

from pipeline.text import (
    TEXT_END,
    TEXT_START,
    ascii_lower,
    clean_text,
    clean_text_bounded,
    normalize_for_grouping,
)

CLEANING_CASES = [
    # The tutorial removed "rt" anywhere: "support" became "suppo".
    ("I support the start of the party", "i support the start of the party"),
    ("RT @GOP: Smart report", "xxuser smart report"),
    ("rt this, RT: that", "this that"),
    ("art heart Rt", "art heart"),
    # The tutorial's class [^a-zA-z0-9\s] kept [ \ ] ^ _ and the backtick (A-z spans them).
    ("a[b]c^d_e`f\\g", "a b c d e f g"),
    # URLs and @mentions become one token each, whatever the link or handle.
    ("see http://t.co/ZSfF… now", "see xxurl now"),
    ("https://example.com/a?b=1 and www.example.org", "xxurl and xxurl"),
    ("@megynkelly @FoxNews asked", "xxuser xxuser asked"),
    # Hashtags keep their word.
    ("#GOPDebate was #LIT", "gopdebate was lit"),
    # Apostrophes join their word, ASCII or typographic.
    ("Don't, won\u2019t", "dont wont"),
    ("Tom &amp; Jerry", "tom and jerry"),
    ("  lots   of\tspace\n", "lots of space"),
    ("", ""),
    ("\U0001f600\U0001f621", ""),
    ("caf\u00e9 na\u00efve", "caf na ve"),
    ("WORST SHOW EVER!!!", "worst show ever"),
    # The debate's people become one token: the model judges what is said, not about whom.
    ("Trump's answer, #Jeb2016 and KASICH", "xxname answer xxname and xxname"),
    ("trumpet and rubious", "trumpet and rubious"),
]


@pytest.mark.parametrize(("raw", "cleaned"), CLEANING_CASES)
def test_clean_text_applies_the_rules(raw, cleaned):
    assert clean_text(raw) == cleaned


HOSTILE = ["\u202eevil\u200b text\x07", "null\x00byte", "\u0130stanbul \u212a", "<b>x</b>"]


@pytest.mark.parametrize(
    ("python_clean", "marks"),
    [(clean_text, {}), (clean_text_bounded, {"prefix": TEXT_START, "suffix": TEXT_END})],
)
def test_in_model_cleaning_matches_python_cleaning(python_clean, marks):
    from pipeline.backend import tf
    from pipeline.recipes.ngram import CleanText

    texts = [raw for raw, _ in CLEANING_CASES] + HOSTILE
    cleaned = [t.decode("utf-8") for t in CleanText(**marks)(tf.constant(texts)).numpy()]
    assert cleaned == [python_clean(t) for t in texts]


def test_saved_model_keeps_its_own_cleaning_rules(tmp_path):
    from pipeline.backend import keras, tf
    from pipeline.recipes.ngram import CleanText

    texts = keras.Input(shape=(), dtype="string")
    model = keras.Model(texts, CleanText(rules=[("[aeiou]", "")])(texts))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded(tf.constant(["Debate"])).numpy()[0] == b"dbt"


def test_bounded_cleaning_marks_both_ends_even_of_an_empty_text():
    assert clean_text_bounded("Great night!") == "< great night >"
    assert clean_text_bounded("") == "<  >"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("RT @someone: Great night #GOPDebate", "great night #gopdebate"),
        ("Great night http://t.co/abc", "great night  http://t.co/xyz…"),
        ("GREAT night", "great   night"),
    ],
)
def test_copies_of_a_tweet_share_a_grouping_key(a, b):
    assert normalize_for_grouping(a) == normalize_for_grouping(b)


def test_different_tweets_keep_different_grouping_keys():
    assert normalize_for_grouping("great night") != normalize_for_grouping("bad night")
    # Only a leading retweet marker is removed, not the word elsewhere.
    assert normalize_for_grouping("start rt @x: y") == "start rt @x: y"


@pytest.mark.parametrize(
    "text",
    [
        "ABC xyz",
        "İSTANBUL",
        "Kelvin \u212a",
        "ÀÉÎ Ünïcode",
        "ß ẞ",
        "😀 EMOJI",
        "\x00NUL",
        "\ud800 LONE",
    ],
)
def test_only_ascii_capitals_are_lowered(text):
    # What tf.strings.lower does without an encoding, and so what the saved model does.
    expected = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    assert ascii_lower(text) == expected
