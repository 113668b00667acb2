"""End to end in a real browser: Playwright drives Debian's Chromium against `streamlit run`."""

import pandas as pd
import pytest

from pipeline import config

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshot.png"


def test_predict_shows_the_label_and_a_rendered_chart(page):
    page.get_by_label("Text to classify").fill("Great answers tonight, so proud of our candidates!")
    page.get_by_role("button", name="Predict").click()
    result = page.get_by_test_id("stMetric").filter(has_text="Predicted label")
    result.get_by_text("positive", exact=True).wait_for()
    chart = page.get_by_test_id("stVegaLiteChart").locator("canvas, svg").first
    chart.wait_for(state="visible")
    assert chart.bounding_box()["height"] > 50
    page.get_by_test_id("explanation").wait_for()
    page.wait_for_timeout(500)  # let the chart finish its entrance
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_batch_upload_scores_and_downloads(page, tmp_path):
    source = tmp_path / "tweets.csv"
    pd.DataFrame(
        {"id": [1, 2, 3], "text": ["WORST SHOW EVER", "=HYPERLINK(1)", "Loved the debate!"]}
    ).to_csv(source, index=False)
    page.get_by_role("tab", name="Batch").click()
    page.locator("input[type=file]").first.set_input_files(str(source))
    page.get_by_role("button", name="Score").click()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download scored CSV").click()
    target = tmp_path / "scored.csv"
    download_info.value.save_as(target)
    scored = pd.read_csv(target)
    assert scored["id"].tolist() == [1, 2, 3]
    assert {"predicted_label", "prob_negative", "prob_neutral", "prob_positive"} <= set(scored)
    assert scored.loc[0, "predicted_label"] == "negative"
    assert scored.loc[1, "text"] == "'=HYPERLINK(1)"  # formula made inert
