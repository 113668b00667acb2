"""How much of a text a model reads (pipeline.window): the words past it never count."""

import pytest
from conftest import shipped_version

from pipeline import config
from pipeline.predict import load_predictor
from pipeline.text import cut_text

LONG = " ".join(
    f"Question {i}: the candidates argued about taxes, jobs and the border again."
    for i in range(40)
)


@pytest.mark.parametrize("architecture", ["minilm+fasttext", "fasttext"])
def test_words_past_the_window_do_not_change_the_prediction(architecture):
    predictor = load_predictor(config.DEFAULT_MODELS_DIR, shipped_version(architecture))
    words = LONG.split()
    read = predictor.words_read(LONG)
    assert 0 < read < len(words)
    window = predictor.window
    assert window.fits(" ".join(words[:read]))
    assert not window.fits(" ".join(words[: read + 1]))
    # Whatever follows the words counted is never read...
    counted = window.words_counted(LONG)
    assert read < counted < len(words)
    head = " ".join(words[:counted])
    one, other = predictor.predict_proba([f"{head} WORST SHOW EVER", f"{head} best night ever"])
    assert one.tolist() == other.tolist()
    # ...while a change inside the window is.
    changed = " ".join(["Disgusting", "awful", "liar", *words[3:]])
    assert (
        predictor.predict_proba([changed])[0].tolist()
        != predictor.predict_proba([LONG])[0].tolist()
    )


def test_a_short_text_is_read_whole():
    predictor = load_predictor(config.DEFAULT_MODELS_DIR, shipped_version("minilm+fasttext"))
    assert predictor.words_read("Great answers tonight!") == 3
    assert predictor.words_read("") == 0
    assert predictor.window.words_counted("Great answers tonight!") == 3
    assert "word pieces" in predictor.window.describe()


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("hello world foo", 13, "hello world"),  # not "hello world f"
        ("hello world foo", 11, "hello world"),  # the limit falls on a space
        ("a" * 20, 10, "a" * 10),  # no space to cut at
        ("x " + "b" * 20, 10, "x " + "b" * 8),  # a space only in the first half: cut hard
    ],
)
def test_cut_text_keeps_whole_words_within_the_limit(text, limit, expected):
    assert cut_text(text, limit) == expected
    assert len(cut_text(text, limit)) <= limit
