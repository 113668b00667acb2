"""What an anonymous visitor can cost: admin-password throttling, feedback caps, the API's
per-client rate limit; and a dashboard session following a promotion made elsewhere."""

import shutil
import time

import pytest
from fastapi.testclient import TestClient
from test_app_retrain import open_app

import api
from pipeline import config, limits
from pipeline.errors import RateLimited
from pipeline.feedback import read_feedback, record_feedback
from pipeline.limits import AttemptLimiter, RateLimiter
from pipeline.predict import load_model
from pipeline.registry import Registry

pytestmark = pytest.mark.usefixtures("fresh_caches")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_session_is_locked_out_after_its_wrong_attempts():
    clock = Clock()
    limiter = AttemptLimiter(per_key=3, per_minute=100, lockout_seconds=60, clock=clock)
    for _ in range(3):
        limiter.check("a")
        limiter.failed("a")
    with pytest.raises(RateLimited, match="Try again in 60 s") as refused:
        limiter.check("a")
    assert refused.value.retry_after == pytest.approx(60)
    limiter.check("b")  # another session is not locked
    clock.now += 61
    limiter.check("a")  # the lock-out is over


def locked_out_at_20_seconds() -> tuple[Clock, AttemptLimiter, float]:
    """A limiter of 3 wrong attempts and 60 s lock-outs, whose session "a" failed at +0, +10
    and +20 s (locked out from +20): its clock, the limiter and the start time."""
    clock = Clock()
    limiter = AttemptLimiter(per_key=3, per_minute=100, lockout_seconds=60, clock=clock)
    start = clock.now
    for offset in (0, 10, 20):
        clock.now = start + offset
        limiter.failed("a")
    return clock, limiter, start


def test_a_lock_out_is_extended_by_wrong_attempts_and_then_starts_afresh():
    clock, limiter, start = locked_out_at_20_seconds()
    clock.now = start + 75  # locked since +20; a wrong attempt from a second tab, mid lock-out
    limiter.failed("a")
    with pytest.raises(RateLimited) as refused:
        limiter.check("a")
    assert refused.value.retry_after == pytest.approx(60)  # counted from the latest one
    clock.now = start + 136  # the lock-out is over
    limiter.check("a")
    limiter.failed("a")  # a fresh allowance: one wrong attempt does not lock again
    limiter.check("a")
    for _ in range(3):  # exactly the allowance, then the lock-out, then afresh
        limiter.failed("b")
    clock.now += 61
    limiter.check("b")
    limiter.failed("b")
    limiter.check("b")


def test_a_lock_out_counts_from_the_last_wrong_attempt_and_ends_on_time():
    clock, limiter, start = locked_out_at_20_seconds()
    clock.now = start + 75  # 55 s after the last wrong attempt, 65 s after the one before
    with pytest.raises(RateLimited, match="Try again in 5 s") as refused:
        limiter.check("a")
    assert refused.value.retry_after == pytest.approx(5)
    clock.now = start + 80  # exactly the lock-out after the last one: it is over...
    limiter.check("a")
    limiter.failed("a")  # ...so this wrong attempt starts a fresh allowance
    limiter.check("a")


def test_the_right_password_clears_a_sessions_wrong_attempts():
    clock = Clock()
    limiter = AttemptLimiter(per_key=3, per_minute=100, lockout_seconds=60, clock=clock)
    for _ in range(2):
        limiter.failed("a")
    limiter.succeeded("a")
    for _ in range(2):  # two more slips after a success do not lock the session out
        limiter.check("a")
        limiter.failed("a")
    limiter.check("a")
    limiter.failed("a")
    with pytest.raises(RateLimited):  # three in a row do
        limiter.check("a")


def test_many_sessions_together_are_throttled_too():
    clock = Clock()
    limiter = AttemptLimiter(per_key=5, per_minute=4, lockout_seconds=60, clock=clock)
    for key in "abcd":  # a script opening a new session for every guess
        limiter.check(key)
        limiter.failed(key)
    with pytest.raises(RateLimited, match="on this server"):
        limiter.check("e")
    clock.now += 60
    limiter.check("e")


def test_the_server_wide_wait_counts_from_the_oldest_failure_of_the_minute():
    clock = Clock()
    limiter = AttemptLimiter(per_key=5, per_minute=2, lockout_seconds=60, clock=clock)
    start = clock.now
    limiter.failed("a")
    clock.now = start + 20
    limiter.failed("b")
    clock.now = start + 30
    with pytest.raises(RateLimited, match="Try again in 30 s") as refused:
        limiter.check("c")
    assert refused.value.retry_after == pytest.approx(30)
    clock.now = start + 60  # the oldest failure is a minute old
    limiter.check("c")


def test_the_rate_limiter_allows_a_burst_then_refills():
    clock = Clock()
    limiter = RateLimiter(per_minute=3, clock=clock)
    for _ in range(3):
        limiter.take("1.2.3.4")
    with pytest.raises(RateLimited) as refused:
        limiter.take("1.2.3.4")
    assert refused.value.retry_after == pytest.approx(20)  # one request every 20 s
    limiter.take("5.6.7.8")
    clock.now += 20
    limiter.take("1.2.3.4")
    RateLimiter(per_minute=0).take("x")  # 0 turns it off


def test_the_bucket_refills_at_its_rate_and_says_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(per_minute=120, clock=clock)  # two requests a second
    for _ in range(120):
        limiter.take("a")
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert refused.value.retry_after == pytest.approx(0.5)
    clock.now += 0.25  # half a request earned: the wait is the other half
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert refused.value.retry_after == pytest.approx(0.25)
    clock.now += 1.0  # 0.5 + 2 earned: two requests, not a third
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")


def test_one_request_a_minute_is_a_limit_too():
    limiter = RateLimiter(per_minute=1, clock=Clock())
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")


def test_the_oldest_clients_are_forgotten_first(monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRACKED_CLIENTS", 3)
    limiter = RateLimiter(per_minute=1, clock=Clock())
    for client in "abcd":
        limiter.take(client)
    assert list(limiter.buckets) == ["b", "c", "d"]  # "a" was the oldest: forgotten
    limiter.take("a")  # a fresh allowance, so it passes
    with pytest.raises(RateLimited):
        limiter.take("d")  # still remembered: spent


def test_the_api_answers_429_per_client_and_spares_health(tiny_models_dir, monkeypatch):
    monkeypatch.setenv(config.MODELS_DIR_ENV, str(tiny_models_dir))
    monkeypatch.setenv("SENTIMENT_API_REQUESTS_PER_MINUTE", "3")
    monkeypatch.setenv(api.TRUSTED_PROXIES_ENV, "testclient")
    with TestClient(api.app) as client:
        for _ in range(3):
            assert client.post("/predict", json={"text": "great"}).status_code == 200
        refused = client.post("/predict", json={"text": "great"})
        assert refused.status_code == 429
        assert "at most 3 a minute" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/health").status_code == 200
        # Behind a trusted proxy, each forwarded client has its own allowance.
        other = client.post(
            "/predict", json={"text": "great"}, headers={"X-Forwarded-For": "9.9.9.9"}
        )
        assert other.status_code == 200


def test_the_feedback_store_is_capped_in_total(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_FEEDBACK_ROWS_TOTAL", "2")
    for location in (tmp_path / "feedback.csv", f"memory://feedback-{time.time_ns()}"):
        record_feedback("one", "negative", "positive", "v1", location)
        record_feedback("two", "negative", "positive", "v1", location)
        with pytest.raises(RateLimited, match="full"):
            record_feedback("three", "negative", "positive", "v1", location)
        assert read_feedback(location)["text"].tolist() == ["one", "two"]


def test_wrong_admin_passwords_lock_the_session_out(monkeypatch, tiny_models_dir):
    monkeypatch.setenv("SENTIMENT_ADMIN_ATTEMPTS_PER_SESSION", "2")
    at = open_app(monkeypatch, tiny_models_dir, password="s3cret")
    for guess in ("one", "two"):
        at.text_input(key="admin_password_input").input(guess).run()
    at.text_input(key="admin_password_input").input("s3cret").run()  # right, but too late
    assert not at.exception
    assert "Too many wrong passwords" in at.sidebar.error[0].value
    assert "Admin actions unlocked." not in [c.value for c in at.sidebar.caption]


def test_a_session_gives_at_most_its_feedback_rows(monkeypatch, tiny_models_dir, feedback_file):
    monkeypatch.setenv("SENTIMENT_FEEDBACK_ROWS_PER_SESSION", "2")
    at = open_app(monkeypatch, tiny_models_dir)
    at.text_area(key="predict_text").input("WORST SHOW EVER")
    at = at.button(key="FormSubmitter:predict_form-Predict").click().run()
    for _ in range(3):
        at = at.button(key="feedback_save").click().run()
    assert not at.exception
    assert "the most it can" in at.warning[0].value
    assert len(read_feedback(feedback_file)) == 2


def test_an_open_session_follows_a_promotion_made_elsewhere(monkeypatch, tiny_models_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    registry = Registry(models)
    first = registry.active_version()
    second = registry.save(load_model(registry, first), registry.metadata(first))
    at = open_app(monkeypatch, models)
    assert at.selectbox(key="version").value == first
    Registry(models).promote(second)  # another replica or train.py
    at.run()
    assert at.selectbox(key="version").value == second
    at.selectbox(key="version").select(first).run()  # a choice of the user's own stays
    Registry(models).promote(first)
    Registry(models).promote(second)
    at.run()
    assert at.selectbox(key="version").value == first
