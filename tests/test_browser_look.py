"""How the dashboard looks in a real Chromium: the browser's light or dark setting, a phone's
width, a wide window; and the README's screenshots of the Predict tab in light and dark."""

import re
import time

import pytest

from pipeline import config

pytestmark = pytest.mark.browser
SCREENSHOTS = config.PROJECT_ROOT / "docs" / "screenshots"
EXAMPLE = "Great answers tonight, so proud of our candidates! WORST moderator ever, though."
PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 15's screen in CSS pixels
# WCAG's contrast for body text (AA); the page's own text is held to it, and so is every
# word of the explanation on its tint.
BODY_TEXT_CONTRAST = 4.5


@pytest.fixture
def open_page(browser, streamlit_url):
    """Opens the app in a browser context of its own (colour scheme, viewport)."""
    contexts = []

    def open_with(**options):
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(streamlit_url)
        page.get_by_role("heading", name="Tweet sentiment").wait_for()
        return page

    yield open_with
    for context in contexts:
        context.close()


def rgba(css: str) -> tuple[float, ...]:
    """A computed CSS colour, "rgb(1, 2, 3)" or "rgba(1, 2, 3, 0.5)", as (r, g, b, alpha)."""
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    return (*values[:3], values[3] if len(values) > 3 else 1.0)


def over(color: tuple, page: tuple) -> tuple:
    """A translucent colour as it shows over the (opaque) page colour."""
    alpha = color[3]
    return tuple(c * alpha + p * (1 - alpha) for c, p in zip(color[:3], page[:3], strict=True))


def luminance(color: tuple) -> float:
    """WCAG relative luminance of an sRGB colour."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(c) for c in color[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: tuple, second: tuple) -> float:
    """WCAG contrast ratio, 1 to 21."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def page_colors(page) -> tuple[tuple, tuple]:
    """The app's background and its body text colour, as computed."""
    style = page.get_by_test_id("stApp").evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
    )
    return rgba(style[0]), rgba(style[1])


def predict_with_explanation(page) -> None:
    page.get_by_label("Text to classify").fill(EXAMPLE)
    page.get_by_text("Explain the words").click()  # the shipped transformer explains on request
    page.get_by_role("button", name="Predict").click()
    page.get_by_test_id("explanation").wait_for()
    chart = page.get_by_test_id("stVegaLiteChart").locator("canvas, svg").first
    chart.wait_for(state="visible")
    page.wait_for_timeout(700)  # let the chart finish its entrance


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_browser_and_every_word_stays_readable(open_page, scheme):
    page = open_page(viewport={"width": 1280, "height": 1230}, color_scheme=scheme)
    background, text = page_colors(page)
    if scheme == "dark":
        assert luminance(background) < 0.05 and luminance(text) > 0.6
    else:
        assert luminance(background) > 0.9 and luminance(text) < 0.05
    assert contrast(text, background) >= BODY_TEXT_CONTRAST
    button = page.get_by_role("button", name="Predict").evaluate(
        "el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]"
    )
    assert contrast(rgba(button[0]), over(rgba(button[1]), background)) >= BODY_TEXT_CONTRAST
    predict_with_explanation(page)
    words = page.get_by_test_id("explanation").locator("span")
    styles = words.evaluate_all(
        "spans => spans.map(s => [getComputedStyle(s).color, getComputedStyle(s).backgroundColor])"
    )
    assert len(styles) >= len(EXAMPLE.split()) - 2  # a word per token
    for color, tint in styles:
        assert contrast(over(rgba(color), background), over(rgba(tint), background)) >= (
            BODY_TEXT_CONTRAST
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"predict-{scheme}.png"))


def test_on_a_phone_the_text_box_is_on_the_first_screen(open_page):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    box = page.get_by_label("Text to classify")
    box.wait_for()
    first_screen = PHONE["height"] - 40  # the box's top and a first line show
    # The header's figures settle into their compact lines once the page's style applies,
    # which a loaded machine takes a while to do: wait for it, up to a deadline.
    deadline = time.monotonic() + 20
    while box.bounding_box()["y"] >= first_screen and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    above = page.locator("body").inner_text()[:800]  # what pushed it down, if anything did
    assert box.bounding_box()["y"] < first_screen, above
    header = page.get_by_test_id("stMetric").filter(has_text="Test accuracy").first
    assert header.is_visible()  # compact, not hidden
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "narrow-390.png"))


def test_the_header_shows_the_whole_model_name_in_a_wide_window(open_page):
    page = open_page(viewport={"width": 1400, "height": 900})
    model = page.get_by_test_id("stMetric").filter(has_text="Model").first
    model.get_by_test_id("stMetricValue").wait_for()
    cut = model.evaluate(
        "el => [...el.querySelectorAll('*')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"
    )
    assert cut == []  # "minilm+fast…" before
    assert model.get_by_test_id("stMetricValue").inner_text() == "minilm+fasttext"
