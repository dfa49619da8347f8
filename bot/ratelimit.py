"""Per-key token buckets, shared by the HTTP guard (per client IP) and Slack (per user)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Token buckets by key: `per_minute` sustained, `burst` at once; a rate of 0 disables limiting."""

    def __init__(self, per_minute: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(burst, 1)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def check(self, key: str) -> float:
        """0 when the request may go ahead (and is counted), else the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._evict()
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _evict(self) -> None:
        """Forget the oldest keys so a flood of addresses cannot grow memory without bound."""
        if len(self._buckets) > self._max_keys:
            for key in list(self._buckets)[: len(self._buckets) // 10]:
                del self._buckets[key]
