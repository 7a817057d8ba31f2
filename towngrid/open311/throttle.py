"""Fixed-window rate limits on Django's cache.

The embedded default cache is per process (LocMemCache), so with several web processes each
counts on its own; production should configure a shared cache (Redis, ``CACHES``) so that the
limits hold across processes and hosts.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def allow(bucket: str, limit: int, window: int = 60) -> bool:
    """Count one hit in ``bucket`` for the current window; False when over ``limit``."""
    if limit <= 0:
        return False
    key = f"tg:rl:{bucket}:{int(time.time() // window)}"
    if cache.add(key, 1, window + 5):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window + 5)
        return True
    return count <= limit
