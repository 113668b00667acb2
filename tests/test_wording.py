"""Counts read right: "1 trial", "2 trials", "1 row ... was left out"."""

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.feedback import record_feedback
from pipeline.wording import plural
from ui.data_tab import UPLOAD

APP = str(config.PROJECT_ROOT / "streamlit_app.py")


@pytest.mark.parametrize(
    ("count", "noun", "plural_noun", "expected"),
    [
        (1, "trial", None, "1 trial"),
        (0, "trial", None, "0 trials"),
        (2, "fasttext trial", None, "2 fasttext trials"),
        (14_000, "row", None, "14,000 rows"),
        (1, "copy", "copies", "1 copy"),
        (3, "copy", "copies", "3 copies"),
    ],
)
def test_a_count_takes_the_singular_only_for_one(count, noun, plural_noun, expected):
    assert plural(count, noun, plural_noun) == expected


# --- the Data tab, run for real ---------------------------------------------------------


@pytest.fixture
def data_tab(monkeypatch, tiny_models_dir, fresh_caches):
    """A function that runs the app on the tiny model, with an upload chosen in the Data tab."""

    def open_with(upload: bytes | None = None) -> AppTest:
        monkeypatch.setenv(config.MODELS_DIR_ENV, str(tiny_models_dir))
        at = AppTest.from_file(APP, default_timeout=90)
        at.session_state["data_source"] = UPLOAD
        at.run()
        if upload is not None:
            at.file_uploader(key="data_file").set_value(("upload.csv", upload, "text/csv")).run()
        assert not at.exception
        return at

    return open_with


def captions(at: AppTest) -> list[str]:
    return [c.value.replace("\\", "") for c in at.caption]


def test_one_row_left_out_reads_as_one_row(data_tab):
    sample = config.SAMPLE_DATA_PATH.read_bytes()
    at = data_tab(sample.rstrip(b"\n") + b'\n"",positive\n')
    assert "1 row with an empty text or label was left out." in captions(at)


def test_one_corrected_prediction_reads_as_one(data_tab):
    record_feedback("What a night", "negative", "positive", "v1")
    at = data_tab()
    assert any(c.startswith("1 corrected prediction;") for c in captions(at))
