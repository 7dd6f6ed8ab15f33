"""Small reference tables kept in each process, invalidated through the shared cache.

Categories, time limits and the boundaries of the geography are read by
nearly every request (the complaint form, routing a reported point, every
deadline) and change a few times a year. Each process keeps one snapshot per
loader instead of asking the database every time.

Invalidation: a save or delete of a reference model (REFERENCE_MODELS;
the receivers are connected at start-up, in every process, by
chengguan.apps) drops every snapshot of this process at once and writes a new version token
to the shared cache (Redis in production), again when the transaction
commits. Other processes compare their token with the cache's at most once a
`REFDATA_CHECK_SECONDS` (default 1 s) and reload when it differs, so a change
made in the admin reaches every web and worker process within about a second.
Writes that send no signals (`bulk_create`, `QuerySet.update`, raw SQL) must
call `changed()` themselves.

A snapshot is not stored while the current thread is inside a transaction
that changed a watched table (it could still roll back): such loads are used
for that read only. With the cache unreachable the snapshots are reloaded
from the database every check period instead.

Snapshots hold model instances shared by every request of the process:
treat them as read-only.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

T = TypeVar("T")
VERSION_KEY = "refdata:version"

_lock = threading.Lock()
_local = threading.local()
_snapshots: list[Snapshot[Any]] = []
# The tables the snapshots are made of; a change to any drops them all.
REFERENCE_MODELS = [
    "cases.Category",
    "cases.TimeLimit",
    "chengguan.CalendarOverride",
    "communities.District",
    "communities.Street",
    "communities.Community",
    "communities.GridCell",
]
# The version token last read from the cache, and until when it is trusted.
_seen: dict[str, Any] = {"version": None, "until": 0.0}


def _check_seconds() -> float:
    return float(getattr(settings, "REFDATA_CHECK_SECONDS", 1.0))


def _cache_version() -> str | None:
    """The shared token; a first process after a cache flush sets one."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
        return version
    except Exception:  # the cache is down: reload from the database instead
        logger.warning("reference data: cache unreachable, reloading from the database", exc_info=True)
        return None


def _current_version() -> str:
    now = time.monotonic()
    if now < _seen["until"]:
        return str(_seen["version"])
    # Without the cache, a token of this check period: one reload a period.
    version = _cache_version() or f"unreachable-{now}"
    _seen.update(version=version, until=now + _check_seconds())
    return version


def _bump() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("reference data: could not publish a change", exc_info=True)


def changed() -> None:
    """A watched table changed: drop this process's snapshots and tell the others."""
    if connection.in_atomic_block:
        _local.dirty = True
        transaction.on_commit(_bump)
    clear()
    _bump()


def clear() -> None:
    """Forget every snapshot of this process (tests call this between tests)."""
    with _lock:
        for snapshot in _snapshots:
            snapshot._reset()
        _seen.update(version=None, until=0.0)


def _storable() -> bool:
    if not connection.in_atomic_block:
        _local.dirty = False
        return True
    return not getattr(_local, "dirty", False)


def _on_change(sender: Any, **kwargs: Any) -> None:
    changed()


class _Entry(Generic[T]):
    __slots__ = ("derived", "value", "version")

    def __init__(self, version: str, value: T) -> None:
        self.version = version
        self.value = value
        self.derived: dict[Hashable, Any] = {}


class Snapshot(Generic[T]):
    """The result of `load()`, kept per process until a watched model changes."""

    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self.name = name
        self._load = load
        # Replaced whole, never changed in place: a reader holds one consistent entry.
        self._entry: _Entry[T] | None = None
        with _lock:
            _snapshots.append(self)

    def _reset(self) -> None:
        self._entry = None

    def _current(self) -> _Entry[T]:
        version = _current_version()
        entry = self._entry
        if entry is not None and entry.version == version:
            return entry
        entry = _Entry(version, self._load())
        if _storable():
            self._entry = entry
        return entry

    def get(self) -> T:
        return self._current().value

    def derive(self, key: Hashable, make: Callable[[T], Any]) -> Any:
        """`make(snapshot)`, computed once per snapshot and key (e.g. per language)."""
        entry = self._current()
        if key not in entry.derived:
            entry.derived[key] = make(entry.value)
        return entry.derived[key]


def connect() -> None:
    """Drop the snapshots whenever a reference model is saved or deleted (chengguan.apps)."""
    for label in REFERENCE_MODELS:
        # Model signals take "app_label.ModelName" senders.
        post_save.connect(_on_change, sender=label, dispatch_uid=f"refdata-save-{label}")  # type: ignore[arg-type]
        post_delete.connect(_on_change, sender=label, dispatch_uid=f"refdata-delete-{label}")  # type: ignore[arg-type]
