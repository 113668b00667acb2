"""The Batch tab, run for real with Streamlit's AppTest: which column of an upload is scored."""

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.predict import load_predictor

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
TWEETS = ["great debate", "WORST SHOW EVER", "Loved it, so proud of them!", "who won tonight?"]

pytestmark = pytest.mark.usefixtures("fresh_caches")


def upload(monkeypatch, models_dir, frame: pd.DataFrame, name: str = "tweets.csv") -> AppTest:
    """The app on `models_dir`, with `frame` uploaded to the Batch tab as a CSV."""
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    at = AppTest.from_file(APP, default_timeout=90).run()
    content = frame.to_csv(index=False).encode()
    return at.file_uploader(key="batch_file").set_value((name, content, "text/csv")).run()


def batch(at: AppTest):
    return next(t for t in at.tabs if t.label == "Batch")


def captions(at: AppTest) -> list[str]:
    return [c.value for c in batch(at).caption]


def scored_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in batch(at).dataframe if "predicted_label" in d.value)


def assert_scored_texts(at: AppTest, models_dir, texts: list[str]) -> None:
    """The scored table's probabilities are the model's own for exactly these texts."""
    scored = scored_table(at)
    predictor = load_predictor(models_dir)
    expected = predictor.predict_proba(texts).round(6)
    columns = [f"prob_{label}" for label in predictor.labels]
    np.testing.assert_allclose(scored[columns].to_numpy(), expected, atol=1e-6)


def test_an_id_and_tweet_upload_scores_the_tweets(monkeypatch, tiny_models_dir):
    frame = pd.DataFrame({"id": [2, 7, 11, 12], "tweet": TWEETS})
    at = upload(monkeypatch, tiny_models_dir, frame)
    assert not at.exception and not batch(at).error
    assert at.selectbox(key="batch_column").value == "tweet"
    assert any("column **tweet**" in c and "guessed" in c for c in captions(at))
    preview = batch(at).dataframe[0].value
    assert list(preview.columns) == ["tweet"] and preview["tweet"].tolist() == TWEETS
    at.button(key="batch_score").click().run()
    assert scored_table(at)["id"].tolist() == ["2", "7", "11", "12"]  # cells are read as text
    assert_scored_texts(at, tiny_models_dir, TWEETS)
    assert at.download_button(key="batch_download")


def test_changing_the_text_column_scores_the_chosen_one(monkeypatch, tiny_models_dir):
    notes = ["a note", "another note", "the third", "last one"]
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "tweet": TWEETS, "note": notes})
    at = upload(monkeypatch, tiny_models_dir, frame)
    at.selectbox(key="batch_column").select("note").run()
    assert not batch(at).error
    assert any("column **note**" in c and "your choice" in c for c in captions(at))
    assert batch(at).dataframe[0].value["note"].tolist() == notes
    at.button(key="batch_score").click().run()
    assert_scored_texts(at, tiny_models_dir, notes)


@pytest.mark.parametrize(
    ("values", "problem"), [([1, 2, 3, 4], "holds only numbers"), (["", "", "", ""], "is empty")]
)
def test_a_numeric_or_empty_column_is_refused_and_not_scored(
    monkeypatch, tiny_models_dir, values, problem
):
    frame = pd.DataFrame({"id": values, "tweet": TWEETS})
    at = upload(monkeypatch, tiny_models_dir, frame)
    at.selectbox(key="batch_column").select("id").run()
    assert not at.exception
    (error,) = batch(at).error
    assert f"'id' of tweets.csv {problem}" in error.value.replace("\\", "")
    assert "Columns with texts: 'tweet'" in error.value.replace("\\", "")
    assert not [b for b in at.button if b.key == "batch_score"]
    assert not batch(at).dataframe  # neither a preview nor a result


def test_a_new_upload_starts_from_its_own_guess(monkeypatch, tiny_models_dir):
    at = upload(monkeypatch, tiny_models_dir, pd.DataFrame({"id": [1, 2, 3, 4], "tweet": TWEETS}))
    assert at.selectbox(key="batch_column").value == "tweet"
    other = pd.DataFrame({"tweet": ["a", "b", "c", "d"], "body": TWEETS}).to_csv(index=False)
    at.file_uploader(key="batch_file").set_value(("other.csv", other.encode(), "text/csv")).run()
    assert at.selectbox(key="batch_column").value == "body"


def test_a_file_without_any_text_column_is_refused(monkeypatch, tiny_models_dir):
    frame = pd.DataFrame({"id": [1, 2], "score": [0.5, 0.75]})
    at = upload(monkeypatch, tiny_models_dir, frame, "numbers.csv")
    assert not at.exception
    assert "numbers.csv has no column of texts" in batch(at).error[0].value.replace("\\", "")
    assert not [b for b in at.button if b.key == "batch_score"]
