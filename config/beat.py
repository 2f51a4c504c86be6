"""One scheduling beat per installation, even when two `celery beat` processes run by mistake.

Celery beat keeps its schedule in its own process: a second beat (a second machine provisioned from
the same recipe, a restart that left the old one running) would send every periodic task twice. The
sweeps are idempotent, so that is only wasted work, but twice the daily digest check and twice the
deadline sweep's queries every five minutes is not what "exactly one beat" (README) promises.

`SingleBeatScheduler` wraps beat's tick in a lease in Redis: `SET key token NX PX ttl` to take it,
a compare-and-`PEXPIRE` (Lua) every third of the ttl to keep it, a compare-and-`DEL` on shutdown.
Only the holder sends due tasks; another beat waits, tries again every few seconds, and takes over
within `BEAT_LOCK_SECONDS` of the holder's death (SIGKILL, a lost machine). A beat that cannot reach
Redis sends nothing (the broker is that Redis in production, so nothing could be sent anyway) rather
than guess. The lock is around the tick, not around each task's body: a task body lock would also
swallow the kicks that the outbox and the launch send for the same tasks, and a lock held only while
a sweep runs (milliseconds) would not stop the second beat's copy that arrives a second later.

At a takeover the new holder sends the interval tasks that are due by its own clock at once (they are
idempotent: at most one extra sweep per failover). Where the lock lives: `BEAT_LOCK_URL`, by default
the broker when it is Redis, else `CACHE_URL` when that is Redis; with neither (the demo's
filesystem broker) there is no lock and one beat must be started, as before.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class BeatLock:
    """A lease in Redis that one beat holds at a time (see the module's docstring)."""

    def __init__(self, url: str, key: str, ttl_seconds: float):
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False
        self._next_renew = 0.0
        self._told_waiting = False

    @property
    def renew_every(self) -> float:
        return self.ttl_ms / 3000

    def hold(self) -> bool:
        """True if this beat holds the lease now (taking or renewing it as needed)."""
        now = time.monotonic()
        if self.held and now < self._next_renew:
            return True
        try:
            if self.held:
                self.held = bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))
                if not self.held:
                    logger.warning("beat: lost the lock %s (paused longer than its ttl?); waiting", self.key)
            if not self.held:
                self.held = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
                if self.held:
                    logger.info("beat: holds the lock %s (%s): this beat schedules", self.key, self.token)
                    self._told_waiting = False
                elif not self._told_waiting:
                    logger.info("beat: another beat holds the lock %s; this one sends nothing while it lives", self.key)
                    self._told_waiting = True
        except Exception:  # Redis unreachable: send nothing rather than risk a second scheduler
            if self.held:
                logger.warning("beat: cannot reach Redis to renew the lock %s; pausing", self.key, exc_info=True)
            self.held = False
        if self.held:
            self._next_renew = now + self.renew_every
        return self.held

    def release(self) -> None:
        if self.held:
            try:
                self.client.eval(_RELEASE, 1, self.key, self.token)
            except Exception:  # the lease ends by itself after its ttl
                logger.warning("beat: could not release the lock %s", self.key, exc_info=True)
            self.held = False


def lock_url() -> str:
    """Where the lock lives: BEAT_LOCK_URL, else the broker or the cache when either is Redis; '' = none."""
    configured = settings.BEAT_LOCK_URL
    if configured:
        return "" if configured.lower() in ("none", "off") else configured
    for url in (settings.CELERY_BROKER_URL, settings.CACHE_URL):
        if url.startswith(("redis://", "rediss://")):
            return url
    return ""


class SingleBeatScheduler(PersistentScheduler):
    """celery's PersistentScheduler whose tick sends due tasks only while this beat holds the lock."""

    def __init__(self, *args: Any, **kwargs: Any):
        url = lock_url()
        self.lock = BeatLock(url, settings.BEAT_LOCK_KEY, settings.BEAT_LOCK_SECONDS) if url else None
        if self.lock is None:
            logger.info("beat: no Redis for a lock; run exactly one beat")
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.lock is None:
            return super().tick(*args, **kwargs)
        if not self.lock.hold():
            return min(self.lock.renew_every, 5.0)  # try again soon: take over within the ttl
        return min(super().tick(*args, **kwargs), self.lock.renew_every)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.lock is not None:
                self.lock.release()
