"""In a real browser: the shipped default's committed evaluation on data/sample.csv feeds the
Models tab's views, and a new evaluation run from the tab is listed and shown."""

import re

import pytest
from conftest import shipped_version

from pipeline import config
from pipeline.analysis.evaluations import evaluation_title
from pipeline.registry import Registry

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshots" / "evaluate.png"
CHOOSER = "Predictions shown in Calibration and Error analysis"


def choose(page, container, label: str, option: str) -> None:
    """Pick an option of the Streamlit selectbox labelled `label` inside `container`."""
    box = container.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.first.click()
    page.get_by_role("option", name=option).click()


def test_the_models_tab_shows_the_sample_evaluation_and_runs_a_new_one(page, browser_models_dir):
    from playwright.sync_api import expect  # only where a browser runs

    registry = Registry(browser_models_dir)
    version = shipped_version("minilm+fasttext")
    (committed,) = registry.evaluations(version)
    page.get_by_role("tab", name="Models").click()
    panel = page.get_by_role("tabpanel", name="Models")
    choose(page, panel, "Version", version)  # "(active)" unless another test promoted one
    chooser = panel.get_by_role("combobox", name=CHOOSER)
    expect(chooser).to_have_value(evaluation_title(committed))
    assert "the bundled sample of 700 tweets written for this project" in chooser.input_value()
    # Calibration on the sample: its ECE and a drawn reliability diagram.
    ece = panel.get_by_test_id("stMetric").filter(has_text="Evaluation ECE")
    ece.get_by_text(f"{committed['calibration']['ece']:.3f}").wait_for()
    charts = panel.get_by_test_id("stVegaLiteChart")
    charts.first.locator("canvas, svg").first.wait_for(state="visible")
    # Error analysis on the sample: the commonest confusion's texts.
    panel.get_by_text(re.compile(r"\d+ texts of data/sample\.csv labelled")).wait_for()

    panel.get_by_text("Evaluate on a labelled CSV").click()
    panel.get_by_role("radiogroup").filter(has_text="Upload a CSV").first.get_by_text(
        "data/sample.csv"
    ).click()
    panel.get_by_role("button", name="Evaluate", exact=True).click()
    newest = None
    for _ in range(240):  # the pair scores the 700 texts in a few seconds
        records = registry.evaluations(version)
        if len(records) == 2:
            newest = records[0]
            break
        page.wait_for_timeout(500)
    assert newest is not None, "no second evaluation was stored"
    assert newest["data"]["path"] == "data/sample.csv" and newest["data"]["rows_used"] == 700
    expect(chooser).to_have_value(evaluation_title(newest))  # listed and selected
    ece.get_by_text(f"{newest['calibration']['ece']:.3f}").wait_for()
    heading = panel.get_by_role("heading", name="Evaluations")
    heading.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)  # let the charts finish their entrance
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
