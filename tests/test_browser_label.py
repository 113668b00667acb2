"""The Label tab in Chromium: five texts labelled by the keyboard alone (1, 2, 3 for the
classes, S to skip, U to undo), the progress, and the labels saved in the registry."""

import html
import re
import shutil

import pytest

from pipeline import config
from pipeline.labelled import read_labelled_set
from pipeline.registry import Registry
from pipeline.registry.store import LABELS_DIR

pytestmark = pytest.mark.browser
SCREENSHOT = config.PROJECT_ROOT / "docs" / "screenshots" / "label.png"


def as_shown(text: str) -> str:
    """A text as the page shows it: entities such as &amp; rendered, spaces collapsed."""
    return " ".join(html.unescape(text).split())


def test_five_texts_are_labelled_by_keyboard_with_progress_and_saved(page, browser_models_dir):
    from playwright.sync_api import expect

    shutil.rmtree(browser_models_dir / LABELS_DIR, ignore_errors=True)
    registry = Registry(browser_models_dir)
    page.get_by_role("tab", name="Label").click()
    panel = page.get_by_role("tabpanel", name="Label")
    name = panel.get_by_role("textbox", name="Your name (annotator)")
    name.fill("ann")
    name.press("Enter")
    panel.get_by_role("combobox", name="Strategy").click()
    page.get_by_role("option", name="random").click()
    panel.get_by_role("spinbutton", name="Texts to pick").fill("5")
    panel.get_by_role("spinbutton", name="Texts to pick").press("Enter")
    panel.get_by_role("button", name="Pick 5 texts").click()
    progress = panel.get_by_test_id("stProgress")
    expect(progress).to_contain_text("0 of 5")
    card = panel.locator(".st-key-label_card")
    expect(panel.get_by_role("button", name="negative")).to_be_enabled()
    card.click()  # the focus leaves the name box: keys in a text box are typing, not shortcuts

    given = []

    def press(key: str, done: int) -> None:
        page.keyboard.press(key)
        expect(progress).to_contain_text(f"{done} of 5")

    for key, label, done in [("1", "negative", 1), ("2", "neutral", 2)]:
        given.append((card.inner_text(), label))
        press(key, done)
    skipped = card.inner_text()
    press("s", 3)
    expect(card).not_to_have_text(skipped)
    press("u", 2)  # the skip undone: the same text again
    expect(card).to_have_text(skipped)
    for key, label, done in [("3", "positive", 3), ("1", "negative", 4), ("2", "neutral", 5)]:
        given.append((card.inner_text(), label))
        press(key, done)
    expect(panel.get_by_text("All 5 texts are done")).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^5 texts labelled \(5 labels given\)"))).to_be_visible()
    saved = read_labelled_set(registry).frame
    assert [(as_shown(t), v) for t, v in zip(saved["text"], saved["label"], strict=True)] == [
        (as_shown(t), v) for t, v in given
    ]
    assert set(saved["annotator"]) == {"ann"} and set(saved["pool"]) == {"data/sample.csv"}

    # A class key pressed on another tab labels nothing there.
    press("u", 4)  # the last label undone: its text is back on the card
    page.get_by_role("tab", name="Predict").click()
    # The switch reruns the app, which unbinds the Label tab's keys: wait for that run.
    page.wait_for_timeout(500)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()
    page.locator("body").press("1")
    page.wait_for_timeout(1500)
    assert read_labelled_set(registry).labels_given == 4
    page.get_by_role("tab", name="Label").click()
    expect(progress).to_contain_text("4 of 5")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    panel.screenshot(path=str(SCREENSHOT))
