"""The Monitor tab in Chromium: a stream that switches topic raises the drift banner with the
words behind it, and one click sends the drifted texts to the Label tab."""

import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipeline import config
from pipeline.monitor.log import LOG_DIR
from pipeline.registry import Registry
from tests.test_app_monitor import PHONE_WORDS, phone_texts, reference_like, write_log

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshots" / "monitor.png"


def test_a_switched_stream_shows_the_drift_banner_and_its_texts_go_to_the_label_tab(
    page, browser_models_dir
):
    from playwright.sync_api import expect

    shutil.rmtree(browser_models_dir / LOG_DIR, ignore_errors=True)
    registry = Registry(browser_models_dir)
    # The shipped default kept no test part: its reference is its evaluation on sample.csv.
    version, labels, texts, probs = reference_like(browser_models_dir, 500, evaluation=True)
    assert version == registry.active_version()
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    write_log(browser_models_dir, version, texts, probs, labels, start, step_seconds=60)
    negative = np.full((500, len(labels)), 0.1 / (len(labels) - 1))
    negative[:, labels.index("negative")] = 0.9
    phones = phone_texts(500)
    write_log(browser_models_dir, version, phones, negative, labels, start + timedelta(days=1))
    try:
        page.get_by_role("tab", name="Monitor").click()
        panel = page.get_by_role("tabpanel", name="Monitor")
        expect(panel.get_by_text("The prediction log is off")).to_be_visible()
        expect(
            panel.get_by_text("data/sample.csv: the bundled sample of 700 tweets")
        ).to_be_visible()
        banner = panel.get_by_test_id("stAlertContentError")
        expect(banner).to_contain_text("Drift. The latest window", timeout=120_000)
        expect(banner).to_contain_text("The texts changed")
        words = panel.get_by_text("Words that give these texts away")
        expect(words).to_be_visible()
        assert any(word in words.inner_text() for word in PHONE_WORDS)
        panel.get_by_test_id("stVegaLiteChart").first.wait_for(state="visible")
        page.set_viewport_size({"width": 1280, "height": 2200})
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 1400})

        panel.get_by_role("button", name="Label these 500 texts").click()
        label = page.get_by_role("tabpanel", name="Label")
        expect(page.get_by_role("tab", name="Label")).to_have_attribute("aria-selected", "true")
        sent = label.get_by_role("radio", name="Texts sent from the Monitor tab")
        expect(sent).to_be_checked()
        expect(label.get_by_text(phones[0], exact=True)).to_be_attached()
    finally:
        shutil.rmtree(browser_models_dir / LOG_DIR, ignore_errors=True)
