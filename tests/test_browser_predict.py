"""The Predict tab in a real browser: a long paste is kept, classified and its cut said."""

import pytest
from playwright.sync_api import expect

from pipeline import config

pytestmark = pytest.mark.browser
SCREENSHOTS = config.PROJECT_ROOT / "docs" / "screenshots"
SENTENCE = "The candidates argued about taxes, jobs and the border again tonight. "


def test_a_long_paste_is_kept_and_classified_with_its_cut_said(page):
    text = (SENTENCE * 30)[:1_420]
    box = page.get_by_label("Text to classify")
    box.click()
    page.keyboard.insert_text(text)  # as a paste arrives: one input of 1,420 characters
    assert len(box.input_value()) == 1_420
    page.get_by_role("button", name="Predict").click()
    page.get_by_test_id("stMetric").filter(has_text="Predicted label").wait_for()
    alert = page.get_by_test_id("stAlert").filter(has_text="of 1,420 characters")
    alert.wait_for()
    assert "the Predict box takes up to 1,000" in alert.inner_text()
    assert "were read in full" in alert.inner_text()
    page.get_by_text("Type a text to classify").wait_for(state="detached")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "predict-long-paste.png"), full_page=True)


def test_a_shared_link_opens_on_its_prediction(page, streamlit_url):
    page.goto(f"{streamlit_url}/?text=WORST+SHOW+EVER")
    result = page.get_by_test_id("stMetric").filter(has_text="Predicted label")
    result.get_by_text("negative", exact=True).wait_for()
    expect(page.get_by_label("Text to classify")).to_have_value("WORST SHOW EVER")
    page.get_by_label("Text to classify").fill("Great answers tonight, so proud!")
    page.get_by_role("button", name="Predict").click()
    result.get_by_text("positive", exact=True).wait_for()
    page.wait_for_url("**text=Great+answers+tonight*")
