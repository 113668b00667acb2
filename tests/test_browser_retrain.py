"""The Retrain tab's results in Chromium: one fasttext epoch on data/sample.csv, compared with
the active version on its own test part, timed once, promoted only when confirmed, then tried
in the Predict tab."""

import os
import re
import signal
import time
from pathlib import Path

import pytest

from pipeline import config
from pipeline.analysis.predictions import load_predictions
from pipeline.evaluate import evaluate_predictions
from pipeline.predict import load_predictor
from pipeline.registry import Registry
from tests.conftest import shipped_version
from tests.helpers import wait_for_new_saved_version

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshots" / "retrain-results.png"
# A duration as the tab writes one: "7 s", "about 1 s", "4 min 05 s", "about 8 min".
DURATION = re.compile(r"\b\d+(?:\.\d+)? ?(?:s|min)\b")


@pytest.fixture
def shipped_active(browser_models_dir):
    """The browser's models folder; the `page` fixture made the shipped default active."""
    registry = Registry(browser_models_dir)
    assert registry.active_version() == shipped_version("minilm+fasttext")
    return registry


def test_a_fasttext_retrain_is_compared_on_its_own_test_part_and_timed_once(page, shipped_active):
    from playwright.sync_api import expect

    registry = shipped_active
    active = registry.active_version()
    page.reload()  # the page follows the active version it was opened with
    page.get_by_role("tab", name="Retrain").click()
    panel = page.get_by_role("tabpanel", name="Retrain")
    panel.get_by_text("data/sample.csv").click()
    panel.get_by_role("spinbutton", name="Epochs").fill("1")
    before = set(registry.versions())
    clicked = time.monotonic()
    panel.get_by_role("button", name="Start training").click()
    version = wait_for_new_saved_version(page, panel, before)
    waited = time.monotonic() - clicked
    saved = panel.get_by_text(re.compile(r"Saved version \S+ in"))

    # The rows: the new version, the active one and the baseline, all on the new test part.
    for row in (f"new: {version}", f"active: {active}", "baseline: tf-idf + logistic regression"):
        panel.get_by_text(row, exact=True).wait_for(state="attached")
    panel.get_by_text("its test part: 100 rows of sample.csv").wait_for(state="attached")
    panel.get_by_text("trained on other data (Sentiment.csv)").wait_for()

    # The active version's figure, computed here on the test texts saved with the new one.
    test = load_predictions(registry, version)
    predictor = load_predictor(registry.root, active)
    active_f1 = evaluate_predictions(
        test["label"].tolist(), predictor.predict_proba(test["text"]), predictor.labels
    )["macro_f1"]
    new_f1 = registry.metadata(version)["metrics"]["macro_f1"]
    assert new_f1 < active_f1  # one epoch of fasttext against the shipped default

    # One duration, the job's whole wait from the click, and no other figure beside it.
    panel.get_by_test_id("stMetric").filter(has_text="Test accuracy").first.wait_for()
    durations = DURATION.findall(panel.inner_text())
    assert len(durations) == 1, durations
    shown = int(re.search(r" in (\d+) s,", saved.inner_text()).group(1))
    assert registry.metadata(version)["job_seconds"] - 1 <= shown <= waited + 1

    # Promoting a version that scores below the active one asks for a tick first.
    promote = panel.get_by_role("button", name="Promote to active")
    expect(promote).to_be_disabled()
    confirm = panel.get_by_text(re.compile(r"^Promote anyway"))
    expect(confirm).to_contain_text(f"{new_f1:.3f}, below the active version's {active_f1:.3f}")
    screenshot_results(page, panel, saved, promote)
    confirm.click()
    expect(promote).to_be_enabled()
    promote.click()
    expect(promote).to_be_disabled()  # it is the active version now
    assert registry.active_version() == version

    # And this session predicts with it.
    panel.get_by_role("button", name="Try it in the Predict tab").click()
    page.get_by_role("tab", name="Predict").click()
    page.get_by_label("Text to classify").fill("What a great night")
    page.get_by_role("button", name="Predict").click()
    page.get_by_test_id("stMetric").filter(has_text="Predicted label").wait_for()
    header = page.get_by_test_id("stMetric").filter(has_text="Model").first
    assert version in header.inner_text()


def screenshot_results(page, panel, first, last) -> None:
    """The results, from the `first` element to the `last`, in a window tall enough for all."""
    page.set_viewport_size({"width": 1280, "height": 3200})
    last.scroll_into_view_if_needed()
    panel.get_by_test_id("stDataFrame").first.wait_for(state="visible")
    for chart in panel.get_by_test_id("stVegaLiteChart").all():
        chart.locator("canvas, svg").first.wait_for(state="visible")
    page.wait_for_timeout(800)  # let the charts and metrics finish their entrance
    area, top, bottom = panel.bounding_box(), first.bounding_box(), last.bounding_box()
    y = top["y"] - 16
    clip = {"x": area["x"], "y": y, "width": area["width"]}
    clip["height"] = bottom["y"] + bottom["height"] + 16 - y
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), clip=clip)


def worker_pids(models_dir) -> list[int]:
    """The training workers started by the app that serves `models_dir`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, PermissionError, NotADirectoryError, ProcessLookupError):
            continue
        if b"pipeline.worker" in command and (
            f"{config.MODELS_DIR_ENV}={models_dir}".encode() in environment
        ):
            found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_epoch_fails_its_job_and_the_app_keeps_serving(page, shipped_active):
    registry = shipped_active
    before = (registry.versions(), registry.active_version())
    page.get_by_role("tab", name="Retrain").click()
    panel = page.get_by_role("tabpanel", name="Retrain")
    panel.get_by_text("data/sample.csv").click()
    panel.get_by_role("spinbutton", name="Epochs").fill("20")  # the form starts on fasttext
    panel.get_by_role("button", name="Start training").click()
    panel.get_by_text(re.compile(r"Epoch \d+/20 · batch")).wait_for(timeout=120_000)
    (worker,) = worker_pids(shipped_active.root)
    assert worker != os.getpid()
    os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer would, mid-epoch

    panel.get_by_text(re.compile(r"The training process was killed \(SIGKILL\)")).wait_for()
    assert (registry.versions(), registry.active_version()) == before
    assert worker_pids(shipped_active.root) == []

    # Every session is still served: this one, and a new one.
    for tab in (page, page.context.new_page()):
        if tab is not page:
            tab.goto(page.url)
        tab.get_by_role("tab", name="Predict").click()
        tab.get_by_label("Text to classify").fill("What a great night")
        tab.get_by_role("button", name="Predict").click()
        result = tab.get_by_test_id("stMetric").filter(has_text="Predicted label")
        result.get_by_text("positive", exact=True).wait_for()
