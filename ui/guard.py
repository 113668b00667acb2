"""The admin guard for public deployments.

With `admin_password` in the app's secrets, promoting and deleting versions need it, and so
does training unless `require_password_to_train = false`. The password is typed in the
sidebar, compared in constant time, and never logged or shown.
"""

import hmac

import streamlit as st

from pipeline import config

PASSWORD_KEY = "admin_password_input"


def _secret(name: str, default=None):
    try:
        return st.secrets.get(name, default)
    except Exception:  # no secrets file at all: a local, unguarded run
        return default


def guard_enabled() -> bool:
    """Whether an admin password is configured."""
    return bool(_secret(config.ADMIN_PASSWORD_SECRET))


def is_admin() -> bool:
    """True when no password is configured, or the right one was typed in the sidebar."""
    expected = _secret(config.ADMIN_PASSWORD_SECRET)
    if not expected:
        return True
    typed = st.session_state.get(PASSWORD_KEY) or ""
    return hmac.compare_digest(typed.encode(), str(expected).encode())


def may_train() -> bool:
    """Whether this session may start a training job."""
    if not bool(_secret(config.TRAIN_NEEDS_PASSWORD_SECRET, True)):
        return True
    return is_admin()


def admin_ui() -> None:
    """The sidebar's password box, shown only when a password is configured."""
    if not guard_enabled():
        return
    st.sidebar.text_input("Admin password", type="password", key=PASSWORD_KEY)
    if is_admin():
        st.sidebar.caption("Admin actions unlocked.")
    else:
        st.sidebar.caption("Promote, delete and training need the admin password.")
