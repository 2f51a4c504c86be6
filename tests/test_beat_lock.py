"""config/beat.py: one beat holds the lease in Redis and sends; another waits and takes over."""

import time

import pytest
from django.test import override_settings

from config.beat import BeatLock, lock_url
from harness.processes import RedisServer

pytestmark = [pytest.mark.skipif(not RedisServer.available(), reason="needs the redis-server binary")]


@pytest.fixture(scope="module")
def redis_url():
    with RedisServer() as redis:
        yield redis.url


def test_one_holder_release_and_expiry(redis_url):
    first, second = BeatLock(redis_url, "t:beat", 0.6), BeatLock(redis_url, "t:beat", 0.6)
    assert first.hold() and not second.hold()
    assert first.hold() and not second.hold()  # renewing keeps it
    first.release()
    assert second.hold() and not first.hold()
    # The holder dies without releasing: the lease ends after its ttl and the other takes over.
    second.held = False  # forget it without deleting the key, as SIGKILL would
    assert not first.hold()
    time.sleep(0.7)
    assert first.hold()


def test_renewal_keeps_the_lease_past_its_ttl(redis_url):
    holder, other = BeatLock(redis_url, "t:renew", 0.6), BeatLock(redis_url, "t:renew", 0.6)
    assert holder.hold()
    for _ in range(6):  # 1.2 s, twice the ttl, renewed every third of it
        time.sleep(0.2)
        assert holder.hold() and not other.hold()


def test_without_redis_nothing_is_sent():
    lock = BeatLock("redis://127.0.0.1:1/0", "t:down", 5)
    assert lock.hold() is False


@override_settings(BEAT_LOCK_URL="", CELERY_BROKER_URL="redis://b:6379/0", CACHE_URL="")
def test_lock_url_defaults_to_the_broker():
    assert lock_url() == "redis://b:6379/0"


@override_settings(BEAT_LOCK_URL="", CELERY_BROKER_URL="filesystem://", CACHE_URL="redis://c:6379/1")
def test_lock_url_falls_back_to_the_cache():
    assert lock_url() == "redis://c:6379/1"


@override_settings(BEAT_LOCK_URL="off", CELERY_BROKER_URL="redis://b:6379/0")
def test_lock_can_be_turned_off():
    assert lock_url() == ""
