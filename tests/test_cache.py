"""The Redis cache backend (mindweave_ir/cache.py): Django's, reusing one Redis client
per connection pool instead of building one per call."""

import pytest
from django.conf import settings
from django.core.cache import cache, caches

from mindweave_ir.cache import ReusedClientRedisCache


def test_one_client_serves_every_call():
    # No connection is made until a command runs, so no Redis is needed here.
    backend = ReusedClientRedisCache("redis://127.0.0.1:6379/9", {})

    first = backend._cache.get_client("a", write=True)

    assert backend._cache.get_client("b") is first
    assert backend._cache.get_client("c", write=True) is first


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis: set REDIS_URL (CI does)")
def test_the_configured_cache_is_it_and_works():
    assert isinstance(caches["default"], ReusedClientRedisCache)
    key = "test-cache:reused-client"
    cache.delete(key)

    assert cache.add(key, 1, timeout=5)
    assert not cache.add(key, 2, timeout=5)
    assert cache.get(key) == 1
    cache.set(key, {"a": [1, 2]}, timeout=5)
    assert cache.get(key) == {"a": [1, 2]}
    assert cache.delete(key)
    assert cache.get(key) is None
