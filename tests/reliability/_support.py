"""Helpers shared by the issue-6 reliability tests that run against the test's own database
with committed rows: the sandbox twins served from threads of the test process, its database
put back as it was afterwards, and waiting.

The serving, snapshot and restore code is test_no_plaintext_secrets.py's (imported, not
copied); what is here wraps it for the tests that need the same set-up.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from flashfusion.config import get_settings
from tests.reliability.test_no_plaintext_secrets import (
    Served,
    record_issued,
    restore,
    serve,
    snapshot,
    stop,
)

__all__ = ["Served", "record_issued", "serve", "stop", "served", "untouched", "eventually"]

T = TypeVar("T")


@contextlib.contextmanager
def served(apps: dict[str, Any]) -> Iterator[dict[str, Served]]:
    """Each twin app served on a free local port from a thread of this process (its state
    stays readable and steerable here), stopped on exit."""
    running: dict[str, Served] = {}
    try:
        for name, app in apps.items():
            running[name] = serve(app)
        yield running
    finally:
        for twin in running.values():
            stop(twin)


@contextlib.contextmanager
def untouched() -> Iterator[None]:
    """The test database (and the files of the home) as they were before the block: every
    row, table, schema and file the block, or a process it started, added is removed."""
    home = get_settings().home
    before = snapshot(home)  # restore() keeps the SQLite WAL and shared-memory files
    dirs = {path.resolve() for path in home.rglob("*") if path.is_dir()}
    try:
        yield
    finally:
        restore(home, before)
        # restore() removes the files the block added; the folders they were in go too.
        for path in sorted(home.rglob("*"), reverse=True):
            if path.is_dir() and path.resolve() not in dirs and not any(path.iterdir()):
                path.rmdir()


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float, interval: float = 0.2
) -> T:
    """What `await probe()` returns once it is truthy; AssertionError (with the last value)
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {value!r}")
        await asyncio.sleep(interval)
