"""The admin password guards promote, delete and train: only the exact password unlocks."""

import pytest
from streamlit.testing.v1 import AppTest

from pipeline import config
from pipeline.registry import Registry

APP = str(config.PROJECT_ROOT / "streamlit_app.py")
SECRET = "s3cret-Zq81"

pytestmark = pytest.mark.usefixtures("fresh_caches")

WRONG = {
    "empty": "",
    "a prefix": SECRET[:2],
    "all but the last character": SECRET[:-1],
    "a suffix": SECRET[2:],
    "one character more": SECRET + "x",
    "case changed": SECRET.upper(),
    "a leading space": " " + SECRET,
    "a trailing space": SECRET + " ",
    "non-ASCII look-alike": SECRET.replace("s", "\u0455"),  # Cyrillic dze
    "full-width digits": SECRET.replace("3", "\uff13"),
}


def open_guarded(monkeypatch, models_dir, typed: str | None) -> AppTest:
    """The app with a password set, on the Models tab's non-active version, `typed` typed."""
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["admin_password"] = SECRET
    at.run()
    registry = Registry(models_dir)
    other = next(v for v in registry.versions() if v != registry.active_version())
    at.selectbox(key="models_detail").select(other).run()
    if typed is not None:
        at.text_input(key="admin_password_input").input(typed).run()
    return at


@pytest.mark.parametrize("typed", list(WRONG.values()), ids=list(WRONG))
def test_a_wrong_password_unlocks_nothing(monkeypatch, app_models_dir, typed):
    at = open_guarded(monkeypatch, app_models_dir, typed)
    assert not at.exception
    captions = [c.value for c in at.sidebar.caption]
    assert "Admin actions unlocked." not in captions
    assert "Promote, delete and training need the admin password." in captions
    assert at.button(key="promote").disabled
    assert at.checkbox(key="delete_confirm").disabled
    assert at.button(key="delete").disabled
    at = at.button(key="FormSubmitter:retrain_form-Start training").click().run()
    assert "Training needs the admin password (sidebar)." in [w.value for w in at.warning]


def test_the_exact_password_unlocks_promote_delete_and_training(monkeypatch, app_models_dir):
    at = open_guarded(monkeypatch, app_models_dir, SECRET)
    assert "Admin actions unlocked." in [c.value for c in at.sidebar.caption]
    assert not at.button(key="promote").disabled
    assert not at.checkbox(key="delete_confirm").disabled


def test_without_a_password_typed_the_actions_are_locked(monkeypatch, app_models_dir):
    at = open_guarded(monkeypatch, app_models_dir, None)
    assert at.button(key="promote").disabled
