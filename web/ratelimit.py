"""Rate limits: at most `limit` requests per caller in any 60-second window.

In one process the counts live in memory (`MemoryRateLimiter`); replicas
behind a load balancer share them in Redis (`RedisRateLimiter`, GHQA_REDIS_URL),
so a caller cannot multiply the limit by the number of replicas.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import deque
from typing import Protocol

from settings import Settings

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    kind: str

    def retry_after(self, caller: str) -> int:
        """0 when the request may go ahead (and is counted), else seconds to wait."""

    def reachable(self) -> bool:
        """Whether the counts can be kept now (for /api/health)."""


class MemoryRateLimiter:
    kind = "memory"

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, caller: str) -> int:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(caller, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return 0

    def reachable(self) -> bool:
        return True


# A sliding window in one sorted set per caller, checked and counted in one
# atomic step, on the Redis server's clock (replicas' clocks may differ).
_SLIDING_WINDOW = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local window_ms = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window_ms - now_ms
end
redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window_ms)
return 0
"""


class RedisRateLimiter:
    kind = "redis"

    def __init__(self, url: str, limit: int, window: float = 60.0) -> None:
        import redis

        self.limit, self.window = limit, window
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(_SLIDING_WINDOW)
        self._warned = 0.0

    def retry_after(self, caller: str) -> int:
        import redis

        try:
            wait_ms = self._script(
                keys=[f"ghqa:rate:{caller}"],
                args=[int(self.window * 1000), self.limit, secrets.token_hex(8)],
            )
        except redis.RedisError as exc:
            # Answering matters more than counting: let the request through and
            # say so in the log (at most once a minute), and in /api/health.
            if time.monotonic() - self._warned > 60:
                log.warning("rate limiter unreachable, not limiting: %s", exc)
                self._warned = time.monotonic()
            return 0
        return max(1, math.ceil(int(wait_ms) / 1000)) if int(wait_ms) > 0 else 0

    def reachable(self) -> bool:
        import redis

        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False


def rate_limiter(settings: Settings) -> MemoryRateLimiter | RedisRateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.rate_limit_per_minute)
    return MemoryRateLimiter(settings.rate_limit_per_minute)
