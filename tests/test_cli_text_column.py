"""`python -m pipeline predict --input`: which column of a CSV is scored without --text-column."""

import numpy as np
import pandas as pd
import pytest
from helpers import record_rows_held, run_cli

from pipeline.predict import load_predictor, score_csv

TWEETS = ["great debate", "WORST SHOW EVER", "Loved it, so proud of them!", "who won tonight?"]


def predict_csv(models_dir, source, out, *options):
    return run_cli(
        "-m", "pipeline", "predict", "--input", str(source), "--output", str(out), *options,
        models_dir=models_dir,
    )  # fmt: skip


def assert_one_line_error(result, fragment):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]


def test_an_id_and_tweet_file_scores_the_tweets_and_says_so(tiny_models_dir, tmp_path):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": [2, 7, 11, 12], "tweet": TWEETS}).to_csv(source, index=False)
    result = predict_csv(tiny_models_dir, source, out)
    assert result.returncode == 0, result.stderr
    assert "column 'tweet' (guessed" in result.stderr and "--text-column" in result.stderr
    scored = pd.read_csv(out)
    assert scored["id"].tolist() == [2, 7, 11, 12]
    predictor = load_predictor(tiny_models_dir)
    columns = [f"prob_{label}" for label in predictor.labels]
    expected = predictor.predict_proba(TWEETS)
    np.testing.assert_allclose(scored[columns].to_numpy(), expected, atol=1e-5)


def test_an_explicit_column_is_scored_without_a_guess_message(tiny_models_dir, tmp_path):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    notes = ["a note", "another note", "the third", "last one"]
    pd.DataFrame({"tweet": TWEETS, "note": notes}).to_csv(source, index=False)
    result = predict_csv(tiny_models_dir, source, out, "--text-column", "note")
    assert result.returncode == 0, result.stderr
    assert "guessed" not in result.stderr
    scored = pd.read_csv(out)
    probabilities = scored[[c for c in scored if c.startswith("prob_")]].to_numpy()
    np.testing.assert_allclose(
        probabilities, load_predictor(tiny_models_dir).predict_proba(notes), atol=1e-5
    )


@pytest.mark.parametrize(
    ("values", "problem"), [([1, 2, 3, 4], "holds only numbers"), (["", "", "", ""], "is empty")]
)
def test_a_numeric_or_empty_text_column_is_refused_in_one_line(
    tiny_models_dir, tmp_path, values, problem
):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": values, "tweet": TWEETS}).to_csv(source, index=False)
    result = predict_csv(tiny_models_dir, source, out, "--text-column", "id")
    assert_one_line_error(result, f"Column 'id' of in.csv {problem}")
    assert "Columns with texts: 'tweet'" in result.stderr
    assert list(tmp_path.iterdir()) == [source]


def test_a_file_without_any_text_column_is_refused_in_one_line(tiny_models_dir, tmp_path):
    source, out = tmp_path / "numbers.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": [1, 2], "score": [0.5, 0.75]}).to_csv(source, index=False)
    result = predict_csv(tiny_models_dir, source, out)
    assert_one_line_error(result, "numbers.csv has no column of texts")
    assert list(tmp_path.iterdir()) == [source]


def test_the_guess_is_made_once_and_scoring_stays_chunked(tiny_models_dir, tmp_path, monkeypatch):
    source = tmp_path / "in.csv"
    tweets = [f"tweet number {i} about the debate" for i in range(250)]
    pd.DataFrame({"id": range(250), "tweet": tweets}).to_csv(source, index=False)
    held = record_rows_held(monkeypatch)
    guesses = []
    predictor = load_predictor(tiny_models_dir)
    rows = score_csv(
        predictor, source, tmp_path / "out.csv", chunk_rows=100, on_guess=guesses.append
    )
    assert rows == 250 and held == [100, 100, 50]
    assert guesses == ["tweet"]
    scored = pd.read_csv(tmp_path / "out.csv")
    columns = [f"prob_{label}" for label in predictor.labels]
    np.testing.assert_allclose(
        scored[columns].to_numpy(), predictor.predict_proba(tweets), atol=1e-5
    )
