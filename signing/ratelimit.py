"""Fixed-window counters in the shared cache (Redis in production), so every web process sees the
same counts (R15). Keys never contain an OTP or a token."""

from __future__ import annotations

import time

from django.core.cache import cache


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under ``key``; True while the count in this window is within ``limit``."""
    bucket = int(time.time() // window)
    full_key = f"signing:rl:{key}:{bucket}"
    cache.add(full_key, 0, timeout=window + 5)
    try:
        count = cache.incr(full_key)
    except ValueError:  # expired between add and incr
        cache.add(full_key, 1, timeout=window + 5)
        count = 1
    return count <= limit


def cooldown_start(key: str, *, seconds: int) -> int:
    """Start a cool-down unless one is running. Returns 0 when started, else seconds left."""
    now = time.time()
    full_key = f"signing:cd:{key}"
    if cache.add(full_key, now + seconds, timeout=seconds):
        return 0
    until = cache.get(full_key)
    if until is None:  # expired in between: start it now
        cache.set(full_key, now + seconds, timeout=seconds)
        return 0
    return max(1, int(round(float(until) - now)))


def cooldown_left(key: str) -> int:
    until = cache.get(f"signing:cd:{key}")
    if until is None:
        return 0
    return max(0, int(round(float(until) - time.time())))


def cooldown_clear(key: str) -> None:
    cache.delete(f"signing:cd:{key}")
