"""Text cleaning: the rules, the tutorial's bugs as regressions, and Python/TF agreement."""

import pytest

from pipeline.text import (
    TEXT_END,
    TEXT_START,
    TRANSFORMER_RULES,
    Cleaner,
    ascii_lower,
    clean_text,
    clean_text_bounded,
    cut_text,
    emoji_characters,
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
    # Emoji become their names, words a model knows; selectors and skin tones go, a joiner
    # separates, a flag goes.
    ("\U0001f600\U0001f621", "grinning face enraged face"),
    ("So proud \U0001f60d\U0001f525!", "so proud smiling face with heart eyes fire"),
    ("\U0001f44d\U0001f3fd \u2764\ufe0f", "thumbs up red heart"),
    ("\U0001f468\u200d\U0001f4bb coding", "man laptop coding"),
    ("USA \U0001f1fa\U0001f1f8\U0001f1ec\U0001f1e7!", "usa"),
    ("caf\u00e9 na\u00efve", "caf na ve"),
    ("WORST SHOW EVER!!!", "worst show ever"),
    # The debate's people become one token: the model judges what is said, not about whom.
    ("Trump's answer, #Jeb2016 and KASICH", "xxname answer xxname and xxname"),
    ("trumpet and rubious", "trumpet and rubious"),
]


@pytest.mark.parametrize(("raw", "cleaned"), CLEANING_CASES)
def test_clean_text_applies_the_rules(raw, cleaned):
    assert clean_text(raw) == cleaned


# The transformer's light cleaning (minilm, minilm-frozen and the pair's minilm member): one
# case at least for each of its rules, and for the emoji table.
TRANSFORMER_CASES = [
    # URLs become "http", handles "@user", as TweetEval writes them.
    ("see http://t.co/ZSfF\u2026 now", "see http now"),
    ("www.example.org/x?y=1", "http"),
    ("@megynkelly asked", "@user asked"),
    # The retweet marker goes only as a whole word.
    ("RT @GOP: support the start", "@user : support the start"),
    ("Tom &amp; Jerry", "tom & jerry"),
    # The debate's people become "someone", with plurals, possessives and numbers.
    ("Trump's answer, #Jeb2016 and KASICH", "someone 's answer, # someone and someone"),
    ("trumpet and rubious", "trumpet and rubious"),
    # Punctuation, accents and case beyond ASCII stay for the encoder's own tokenizer.
    ("WORST show EVER!!!", "worst show ever!!!"),
    ("caf\u00e9 \u00c9T\u00c9", "caf\u00e9 \u00c9t\u00c9"),
    ("  lots   of\tspace\n", "lots of space"),
    ("", ""),
    (
        "\U0001f60d\U0001f60d\U0001f525",
        "smiling face with heart-eyes smiling face with heart-eyes fire",
    ),
    ("\U0001f621\U0001f92e\U0001f44e", "enraged face face vomiting thumbs down"),
    ("not\U0001f1fa\U0001f1f8 pride", "not pride"),
]


@pytest.mark.parametrize(("raw", "cleaned"), TRANSFORMER_CASES)
def test_transformer_cleaning_applies_its_rules(raw, cleaned):
    clean = Cleaner(TRANSFORMER_RULES, emoji_characters())
    assert clean(raw) == cleaned


def test_every_single_code_point_emoji_has_a_name():
    import emoji

    table = dict(emoji_characters())
    for key in emoji.EMOJI_DATA:
        chars = key.replace("\ufe0f", "")
        if len(chars) == 1 and ord(chars) >= 0x80 and not 0x1F3FB <= ord(chars) <= 0x1F3FF:
            assert table[ord(chars)].strip(), key
    assert all(text.isascii() for text in table.values())


# Control and direction marks, a NUL, capitals that lower to other letters, markup, and
# Unicode spaces, digits and letters, which RE2's \s, \d and \w (in the model) do not match.
HOSTILE = ["\u202eevil\u200b text\x07", "null\x00byte", "\u0130stanbul \u212a", "<b>x</b>",
           "no\u00a0break\u2003em \u0663 caf\u00e9 na\u00efve_x \u00e9rt \u00fctrump"]  # fmt: skip


@pytest.mark.parametrize(
    ("python_clean", "marks"),
    [(clean_text, {}), (clean_text_bounded, {"prefix": TEXT_START, "suffix": TEXT_END})],
)
def test_in_model_cleaning_matches_python_cleaning(python_clean, marks):
    from pipeline.backend import tf
    from pipeline.runtimes.layers import CleanText

    texts = [raw for raw, _ in CLEANING_CASES] + HOSTILE
    layer = CleanText(characters=emoji_characters(), **marks)
    cleaned = [t.decode("utf-8") for t in layer(tf.constant(texts)).numpy()]
    assert cleaned == [python_clean(t) for t in texts]
    # And as the NumPy runtime rebuilds it from a saved model's config, marks included.
    python = Cleaner.from_config(layer.get_config())
    assert cleaned == [python(t) for t in texts]


def test_the_transformer_cleaning_in_the_model_matches_python():
    import emoji

    from pipeline.backend import tf
    from pipeline.runtimes.layers import CleanText

    # Every emoji the package knows, alone and inside a text, plus the hostile strings.
    texts = [raw for raw, _ in TRANSFORMER_CASES] + HOSTILE + list(emoji.EMOJI_DATA)
    texts += [f"Debate {key} night" for key in emoji.EMOJI_DATA]
    layer = CleanText(rules=TRANSFORMER_RULES, characters=emoji_characters())
    cleaned = [t.decode("utf-8") for t in layer(tf.constant(texts)).numpy()]
    python = Cleaner.from_config(layer.get_config())
    assert cleaned == [python(t) for t in texts]


def test_a_model_saved_without_an_emoji_table_keeps_ignoring_emoji(tmp_path):
    from pipeline.backend import keras, tf
    from pipeline.runtimes.layers import CleanText

    texts = keras.Input(shape=(), dtype="string")
    model = keras.Model(texts, CleanText()(texts))  # as versions saved before the table
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded(tf.constant(["Great \U0001f60d"])).numpy()[0] == b"great"
    config = next(layer.get_config() for layer in loaded.layers if isinstance(layer, CleanText))
    assert Cleaner.from_config(config)("Great \U0001f60d") == "great"


def test_saved_model_keeps_its_own_cleaning_rules(tmp_path):
    from pipeline.backend import keras, tf
    from pipeline.runtimes.layers import CleanText

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


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("abc", 3, "abc"),  # exactly at the limit: kept whole
        ("one two three", 9, "one two"),  # cut at the last space, in the second half
        ("one  two", 4, "one"),  # a space at the limit: the head, right-stripped
        (" one two three", 10, " one two"),  # only the right side is stripped
        ("abc defgh", 6, "abc de"),  # a space at exactly half: too early, cut mid-word
        ("abcd efghij", 9, "abcd efgh"),  # likewise with an odd limit
        ("one twoXthree four", 12, "one twoXthre"),  # only whitespace is a place to cut
    ],
)
def test_cut_text_cuts_at_the_last_space_of_the_second_half(text, limit, cut):
    assert cut_text(text, limit) == cut
