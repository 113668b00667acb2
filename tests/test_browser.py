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


def test_retrain_one_epoch_then_promote_and_predict_with_it(page):
    import re

    from playwright.sync_api import expect

    page.get_by_role("tab", name="Retrain").click()
    panel = page.get_by_role("tabpanel", name="Retrain")
    panel.get_by_text("data/sample.csv").click()
    panel.get_by_role("spinbutton", name="Epochs").fill("1")
    panel.get_by_role("button", name="Start training").click()
    saved = panel.get_by_text(re.compile(r"Saved version \S+"))
    saved.wait_for(timeout=240_000)
    version = re.search(r"Saved version (\S+?)\.? in", saved.inner_text()).group(1)
    curves = panel.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first
    curves.wait_for(state="visible")
    panel.get_by_text("baseline: tf-idf + logistic regression").wait_for(state="attached")
    panel.get_by_test_id("stMetric").filter(has_text="Test accuracy").first.wait_for()
    promote = panel.get_by_role("button", name="Promote to active")
    promote.click()
    expect(promote).to_be_disabled()  # it is the active version now
    panel.get_by_role("button", name="Try it in the Predict tab").click()
    page.get_by_role("tab", name="Predict").click()
    page.get_by_label("Text to classify").fill("What a great night")
    page.get_by_role("button", name="Predict").click()
    page.get_by_test_id("stMetric").filter(has_text="Predicted label").wait_for()
    header = page.get_by_test_id("stMetric").filter(has_text="Model").first
    assert version in header.inner_text()
