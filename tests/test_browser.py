"""End to end in a real browser: Playwright drives Debian's Chromium against `streamlit run`."""

import pandas as pd
import pytest

from pipeline import config

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshot.png"


def test_predict_shows_the_label_and_a_rendered_chart(page):
    page.get_by_label("Text to classify").fill("Great answers tonight, so proud of our candidates!")
    page.get_by_text("Explain the words").click()  # the shipped transformer explains on request
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


def choose(page, container, label: str, option: str) -> None:
    """Pick an option of the Streamlit selectbox labelled `label` inside `container`."""
    box = container.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.first.click()
    page.get_by_role("option", name=option).click()


def test_models_tab_shows_a_confusion_cell_explained_and_the_run_overlay(
    page, browser_models_dir, tiny_models_dir
):
    import re

    from pipeline.analysis.confusion import cell_texts, confusion_counts
    from pipeline.analysis.predictions import load_predictions
    from pipeline.registry import Registry
    from pipeline.wording import plural

    registry = Registry(browser_models_dir)
    tiny = Registry(tiny_models_dir).versions()[0]
    page.get_by_role("tab", name="Models").click()
    panel = page.get_by_role("tabpanel", name="Models")
    choose(page, panel, "Version", tiny)
    # The page starts on the fullest cell of wrong predictions: its texts, most confident first.
    predictions = load_predictions(registry, tiny)
    counts = confusion_counts(predictions, registry.metadata(tiny)["labels"])
    true, predicted = max(
        ((t, p) for t in counts.index for p in counts.columns if t != p),
        key=lambda cell: counts.loc[cell],
    )
    expected = cell_texts(predictions, true, predicted)
    assert len(expected) > 0
    caption = (
        f"{plural(len(expected), 'text')} of the test part labelled {true}, predicted {predicted}"
    )
    panel.get_by_text(caption).wait_for()
    explained = panel.get_by_test_id("explanation")
    explained.first.wait_for()
    shown = [explained.nth(i).inner_text() for i in range(explained.count())]
    assert [" ".join(t.split()) for t in shown] == [
        " ".join(t.split()) for t in expected["text"].head(5)
    ]
    panel.get_by_role("heading", name="Compare runs").wait_for()
    overlay = panel.get_by_test_id("stMultiSelect").filter(has_text="Versions to compare")
    assert re.search(r"\d{8}-\d{6}-[0-9a-f]{4}", overlay.inner_text())  # versions chosen
    charts = panel.get_by_test_id("stVegaLiteChart")
    charts.last.locator("canvas, svg").first.wait_for(state="visible")
    assert charts.count() >= 3  # calibration, learning curves, per-class metrics


def test_data_tab_lists_likely_label_errors(page):
    page.get_by_role("tab", name="Data").click()
    panel = page.get_by_role("tabpanel", name="Data")
    panel.get_by_text("data/sample.csv").first.click()
    panel.get_by_text("Look for likely label errors and conflicting duplicates").click()
    panel.get_by_text("Likely label errors").wait_for(timeout=120_000)
    panel.get_by_text("have a label that out-of-fold predictions").wait_for()
    editor = panel.get_by_test_id("stDataFrame").first
    editor.wait_for(state="visible")
    assert editor.bounding_box()["height"] > 100
    panel.get_by_text("Duplicates with conflicting labels").wait_for()


def test_a_sweep_from_the_retrain_tab_shows_its_table_and_chart(page):
    page.get_by_role("tab", name="Retrain").click()
    panel = page.get_by_role("tabpanel", name="Retrain")
    panel.get_by_text("Sweep hyperparameters").click()
    panel.get_by_text("data/sample.csv").first.click()
    panel.get_by_role("spinbutton", name="Trials").fill("2")
    panel.get_by_role("button", name="Start sweep").click()
    panel.get_by_role("heading", name="Sweep results").wait_for()
    panel.get_by_role("button", name="Promote the best").wait_for(timeout=240_000)
    panel.get_by_text("Best: trial").wait_for()
    table = panel.get_by_test_id("stDataFrame").last
    table.wait_for(state="visible")
    chart = panel.get_by_test_id("stVegaLiteChart").last.locator("canvas, svg").first
    chart.wait_for(state="visible")
