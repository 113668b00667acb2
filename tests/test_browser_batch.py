"""The Batch tab in a real browser: an upload whose first column is an id scores its tweets."""

import re

import numpy as np
import pandas as pd
import pytest

from pipeline import config
from pipeline.predict import load_predictor

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshots" / "batch-column.png"
TWEETS = ["WORST SHOW EVER", "Loved the debate, so proud of our candidates!", "who won tonight?"]


def test_an_id_and_tweet_upload_shows_the_guessed_column_and_scores_the_tweets(
    page, tmp_path, browser_models_dir
):
    from playwright.sync_api import expect

    source = tmp_path / "tweets.csv"
    pd.DataFrame({"id": [2, 7, 11], "tweet": TWEETS}).to_csv(source, index=False)
    page.get_by_role("tab", name="Batch").click()
    panel = page.get_by_role("tabpanel", name="Batch")
    panel.locator("input[type=file]").first.set_input_files(str(source))
    caption = panel.get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile(r"Scoring the texts of column tweet, guessed")
    )
    caption.wait_for()
    expect(panel.get_by_role("combobox", name="Text column")).to_have_value("tweet")
    preview = panel.get_by_test_id("stDataFrame").first
    preview.wait_for(state="visible")
    # The grid draws on a canvas; its (hidden) accessible table carries the cells.
    cells = preview.get_by_role("gridcell", include_hidden=True)
    cells.first.wait_for(state="attached")
    assert cells.all_text_contents() == TWEETS
    header = preview.get_by_role("columnheader", include_hidden=True)
    assert header.all_text_contents() == ["tweet"]
    panel.get_by_role("button", name="Score").click()
    with page.expect_download() as download_info:
        panel.get_by_role("button", name="Download scored CSV").click()
    target = tmp_path / "scored.csv"
    download_info.value.save_as(target)
    scored = pd.read_csv(target)
    assert scored["id"].tolist() == [2, 7, 11] and scored["tweet"].tolist() == TWEETS
    # The version the page serves, as its sidebar says (an earlier test may have promoted
    # another one moments before; the page follows the active version it was opened with).
    shown = page.get_by_role("combobox", name="Model version").input_value()
    predictor = load_predictor(browser_models_dir, shown.split()[0])
    expected = predictor.predict_proba(TWEETS)
    columns = [f"prob_{label}" for label in predictor.labels]
    np.testing.assert_allclose(scored[columns].to_numpy(), expected, atol=1e-5)
    labels = np.asarray(predictor.labels)[expected.argmax(axis=1)].tolist()
    assert scored["predicted_label"].tolist() == labels
    panel.get_by_test_id("stVegaLiteChart").locator("canvas, svg").first.wait_for()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let the chart finish its entrance
    page.screenshot(path=str(SCREENSHOT), full_page=True)
