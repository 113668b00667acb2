"""Bounds on what an anonymous visitor of a public deployment can cost.

- AttemptLimiter: wrong admin passwords, per session and across every session of a process;
- RateLimiter: REST API requests per client, a token bucket (a burst of `per_minute`,
  refilled continuously).
Both are in-process: each server process (or API worker) counts for itself, so N replicas
allow N times the rate. Both raise RateLimited, which says when to try again.
"""

import threading
import time
from collections import OrderedDict, deque

from pipeline.errors import RateLimited

# Clients tracked at once by a RateLimiter; the least recently seen are forgotten first.
MAX_TRACKED_CLIENTS = 10_000


class AttemptLimiter:
    """Wrong-password attempts: `per_key` per session, `per_minute` across all sessions.

    A session that reaches `per_key` failures must wait `lockout_seconds` after its last
    one; when all sessions together fail `per_minute` times within a minute, every session
    waits until the oldest of those failures is a minute old.

    Args:
        per_key: failures a session may make before its lock-out.
        per_minute: failures across all sessions within 60 s.
        lockout_seconds: a locked session's wait.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, per_key: int, per_minute: int, lockout_seconds: float,
                 clock=time.monotonic):  # fmt: skip
        self.per_key, self.per_minute, self.lockout = per_key, per_minute, lockout_seconds
        self.clock = clock
        self.failures: dict[str, list[float]] = {}
        self.recent: deque[float] = deque()
        self.lock = threading.Lock()

    def check(self, key: str) -> None:
        """Raise RateLimited if `key` may not try now."""
        now = self.clock()
        with self.lock:
            while self.recent and now - self.recent[0] >= 60:
                self.recent.popleft()
            mine = self.failures.get(key, [])
            if len(mine) >= self.per_key and now - mine[-1] < self.lockout:
                wait = self.lockout - (now - mine[-1])
                raise RateLimited(
                    f"Too many wrong passwords. Try again in {wait:.0f} s.", retry_after=wait
                )
            if len(self.recent) >= self.per_minute:
                wait = 60 - (now - self.recent[0])
                raise RateLimited(
                    f"Too many wrong passwords on this server. Try again in {wait:.0f} s.",
                    retry_after=wait,
                )

    def failed(self, key: str) -> None:
        now = self.clock()
        with self.lock:
            mine = self.failures.setdefault(key, [])
            if len(mine) >= self.per_key and now - mine[-1] >= self.lockout:
                mine.clear()  # the lock-out is over: a fresh allowance
            mine.append(now)
            self.recent.append(now)

    def succeeded(self, key: str) -> None:
        with self.lock:
            self.failures.pop(key, None)


class RateLimiter:
    """A token bucket per client: `per_minute` requests in a burst, refilled at that rate.

    Args:
        per_minute: the rate; 0 or less turns the limit off.
        clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, per_minute: float, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, client: str) -> None:
        """Spend one request of `client`'s allowance, or raise RateLimited."""
        if self.per_minute <= 0:
            return
        now, rate = self.clock(), self.per_minute / 60
        with self.lock:
            tokens, then = self.buckets.pop(client, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - then) * rate)
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                wait = (1 - tokens) / rate
                raise RateLimited(
                    f"Too many requests: at most {self.per_minute:g} a minute per client. "
                    f"Try again in {wait:.1f} s.",
                    retry_after=wait,
                )
            self.buckets[client] = (tokens - 1, now)
            while len(self.buckets) > MAX_TRACKED_CLIENTS:
                self.buckets.popitem(last=False)
