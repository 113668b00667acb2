"""The admin guard for public deployments.

With `admin_password` in the app's secrets, promoting and deleting versions need it, and so
does training unless `require_password_to_train = false`. The password is typed in the
sidebar, compared in constant time, and never logged or shown. Wrong attempts are
throttled (pipeline.limits.AttemptLimiter): ADMIN_ATTEMPTS_PER_SESSION per session, then a
lock-out, and ADMIN_ATTEMPTS_PER_MINUTE across all sessions of the server.
"""

import hmac
import secrets

import streamlit as st

from pipeline import config
from pipeline.errors import RateLimited
from pipeline.limits import AttemptLimiter

PASSWORD_KEY = "admin_password_input"
SESSION_KEY = "admin_session_id"
UNLOCKED_KEY = "admin_unlocked"
REFUSED_KEY = "admin_refused"


@st.cache_resource
def attempt_limiter() -> AttemptLimiter:
    """One limiter for every session of this server process."""
    return AttemptLimiter(
        config.limit("ADMIN_ATTEMPTS_PER_SESSION"),
        config.limit("ADMIN_ATTEMPTS_PER_MINUTE"),
        config.limit("ADMIN_LOCKOUT_SECONDS"),
    )


def _session_key() -> str:
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = secrets.token_hex(8)
    return st.session_state[SESSION_KEY]


def _secret(name: str, default=None):
    try:
        return st.secrets.get(name, default)
    except Exception:  # no secrets file at all: a local, unguarded run
        return default


def guard_enabled() -> bool:
    """Whether an admin password is configured."""
    return bool(_secret(config.ADMIN_PASSWORD_SECRET))


def _check_typed() -> None:
    """On each new password typed: refuse while throttled, else compare and count."""
    expected = str(_secret(config.ADMIN_PASSWORD_SECRET) or "")
    typed = st.session_state.get(PASSWORD_KEY) or ""
    st.session_state[UNLOCKED_KEY], st.session_state[REFUSED_KEY] = False, None
    if not typed:
        return
    limiter, key = attempt_limiter(), _session_key()
    try:
        limiter.check(key)
    except RateLimited as exc:
        st.session_state[REFUSED_KEY] = str(exc)
        return
    if hmac.compare_digest(typed.encode(), expected.encode()):
        limiter.succeeded(key)
        st.session_state[UNLOCKED_KEY] = True
    else:
        limiter.failed(key)


def is_admin() -> bool:
    """True when no password is configured, or the right one was typed in the sidebar."""
    if not _secret(config.ADMIN_PASSWORD_SECRET):
        return True
    return bool(st.session_state.get(UNLOCKED_KEY))


def may_train() -> bool:
    """Whether this session may start a training job."""
    if not bool(_secret(config.TRAIN_NEEDS_PASSWORD_SECRET, True)):
        return True
    return is_admin()


def admin_ui() -> None:
    """The sidebar's password box, shown only when a password is configured."""
    if not guard_enabled():
        return
    st.sidebar.text_input(
        "Admin password", type="password", key=PASSWORD_KEY, on_change=_check_typed
    )
    if st.session_state.get(REFUSED_KEY):
        st.sidebar.error(st.session_state[REFUSED_KEY])
    elif is_admin():
        st.sidebar.caption("Admin actions unlocked.")
    else:
        st.sidebar.caption("Promote, delete and training need the admin password.")
