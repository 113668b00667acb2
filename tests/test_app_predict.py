"""The Predict tab tells the truth about what it read: long pastes, the model's window,
shared links, emoji, and what the model does not cover (AppTest)."""

import pytest
from conftest import shipped_version
from test_app import metric, predict, run_app

from pipeline import config
from pipeline.predict import load_predictor
from pipeline.text import cut_text

pytestmark = pytest.mark.usefixtures("fresh_caches")

SENTENCE = "The candidates argued about taxes, jobs and the border again tonight. "


def long_text(characters: int) -> str:
    return (SENTENCE * (characters // len(SENTENCE) + 1))[:characters]


def test_a_long_paste_is_classified_and_the_cut_is_said(monkeypatch, app_models_dir):
    text = long_text(1_420)
    at = predict(run_app(monkeypatch, app_models_dir), text)
    assert not at.exception
    kept = cut_text(text, config.MAX_TEXT_CHARS)
    warning = " ".join(w.value for w in at.warning)
    assert f"Classified the first {len(kept):,} of 1,420 characters" in warning
    expected = load_predictor(app_models_dir).predict([kept])[0]
    assert metric(at, "Predicted label").value == expected["label"]
    assert (
        f"{expected['probabilities'][expected['label']]:.1%}" in metric(at, "Predicted label").delta
    )


def test_words_past_the_models_input_are_reported(monkeypatch, app_models_dir):
    text = long_text(900)
    predictor = load_predictor(app_models_dir)
    read, counted = predictor.words_read(text), predictor.window.words_counted(text)
    total = len(text.split())
    assert read < counted < total
    at = run_app(monkeypatch, app_models_dir)
    at.toggle(key="explain_words_on_request").set_value(True)
    at = predict(at, text)
    warning = " ".join(w.value for w in at.warning)
    assert f"Only the first {read:,} of these {total:,} words were read in full" in warning
    assert f"nothing after word {counted:,} counted" in warning
    assert "Classified the first" not in warning  # not cut: 900 characters fit the box
    assert any(
        f"The explanation covers the first {read:,} of {total:,} words" in c.value
        for c in at.caption
    )


def test_a_short_text_gets_no_warning(monkeypatch, app_models_dir):
    at = predict(run_app(monkeypatch, app_models_dir), "Great answers tonight!")
    assert not at.warning


def test_a_shared_link_opens_on_its_text_and_result(monkeypatch, app_models_dir):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(app_models_dir))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(config.PROJECT_ROOT / "streamlit_app.py"), default_timeout=90)
    at.query_params["text"] = "WORST SHOW EVER"
    at.run()
    assert at.text_area(key="predict_text").value == "WORST SHOW EVER"
    assert metric(at, "Predicted label").value == "negative"
    at = predict(at, "Great answers tonight, so proud of our candidates!")
    assert at.query_params["text"] == "Great answers tonight, so proud of our candidates!"
    assert metric(at, "Predicted label").value == "positive"
    assert "?text=Great+answers+tonight" in at.code[0].value


def test_the_result_says_what_the_model_learned_from(monkeypatch, app_models_dir):
    at = predict(run_app(monkeypatch, app_models_dir), "Who is moderating tonight?")
    scope = next(c.value for c in at.caption if "This model learned from" in c.value)
    assert "English tweets about the first 2015 US Republican primary debate" in scope
    assert "other languages" in scope
    at.selectbox(key="version").select(shipped_version("fasttext")).run()
    at = predict(at, "Who is moderating tonight?")
    assert any("Republican primary debate" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("text", "label"),
    [("\U0001f60d\U0001f60d\U0001f525\U0001f525\U0001f44f", "positive"),
     ("\U0001f621\U0001f92e\U0001f44e", "negative")],
)  # fmt: skip
def test_emoji_carry_their_meaning_in_the_shipped_default(monkeypatch, app_models_dir, text, label):
    at = run_app(monkeypatch, app_models_dir)
    at.toggle(key="explain_words_on_request").set_value(True)
    at = predict(at, text)
    assert metric(at, "Predicted label").value == label
    explanation = at.get("html")[0].proto.body
    assert f"toward {label}" in explanation  # the emoji push toward their own class


def test_emoji_and_their_absence_give_different_answers():
    predictor = load_predictor(config.DEFAULT_MODELS_DIR)
    loving, angry = predictor.predict_proba(
        ["\U0001f60d\U0001f60d\U0001f525\U0001f525\U0001f44f", "\U0001f621\U0001f92e\U0001f44e"]
    )
    labels = predictor.labels
    assert loving[labels.index("positive")] > angry[labels.index("positive")] + 0.3
    assert angry[labels.index("negative")] > loving[labels.index("negative")] + 0.3
