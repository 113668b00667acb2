"""The admin password guards promote, delete and train: only the exact password unlocks."""

import pytest
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
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


def guard_page():
    """The guard alone, without the dashboard: the password box, and what it allows."""
    import streamlit as st

    from ui.guard import admin_ui, is_admin, may_train

    admin_ui()
    st.text(f"admin={is_admin()} train={may_train()}")


def open_guard(**secrets) -> AppTest:
    at = AppTest.from_function(guard_page, default_timeout=30)
    for name, value in secrets.items():
        at.secrets[name] = value
    return at.run()


def type_password(at: AppTest, typed: str) -> str:
    """Type into the sidebar's box; what the page then allows, e.g. "admin=True train=True"."""
    at.text_input(key="admin_password_input").input(typed).run()
    assert not at.exception
    return at.text[0].value


def test_without_a_password_configured_everyone_may_promote_delete_and_train():
    at = open_guard()
    assert at.text[0].value == "admin=True train=True"
    assert not at.sidebar.text_input  # no password box at all


def test_the_password_box_masks_what_is_typed():
    at = open_guard(admin_password=SECRET)
    box = at.sidebar.text_input(key="admin_password_input")
    assert box.proto.type == TextInputProto.PASSWORD


def test_training_may_be_opened_while_promote_and_delete_stay_guarded():
    at = open_guard(admin_password=SECRET, require_password_to_train=False)
    assert at.text[0].value == "admin=False train=True"
    assert type_password(at, SECRET) == "admin=True train=True"


def test_one_sessions_lock_out_does_not_lock_another(monkeypatch):
    monkeypatch.setenv("SENTIMENT_ADMIN_ATTEMPTS_PER_SESSION", "2")
    guesser, admin = open_guard(admin_password=SECRET), open_guard(admin_password=SECRET)
    for guess in ("one", "two"):
        type_password(guesser, guess)
    assert type_password(guesser, SECRET) == "admin=False train=False"  # locked out
    assert "Too many wrong passwords" in guesser.sidebar.error[0].value
    assert type_password(admin, SECRET) == "admin=True train=True"  # its own allowance


def test_the_right_password_clears_the_wrong_ones_before_it(monkeypatch):
    monkeypatch.setenv("SENTIMENT_ADMIN_ATTEMPTS_PER_SESSION", "2")
    at = open_guard(admin_password=SECRET)
    type_password(at, "one")
    assert type_password(at, SECRET) == "admin=True train=True"
    type_password(at, "two")  # the first wrong attempt since the right one
    assert type_password(at, SECRET) == "admin=True train=True"


def test_clearing_the_box_is_not_a_wrong_attempt(monkeypatch):
    monkeypatch.setenv("SENTIMENT_ADMIN_ATTEMPTS_PER_SESSION", "2")
    at = open_guard(admin_password=SECRET)
    type_password(at, "one")
    assert type_password(at, "") == "admin=False train=False"
    assert type_password(at, SECRET) == "admin=True train=True"
