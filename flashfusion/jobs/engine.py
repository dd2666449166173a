"""DBOS configuration, launch and the queues -- declared here and nowhere else."""

import logging
import sqlite3
from functools import cache
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig

from flashfusion.config import Settings, get_settings, sync_database_url

APPLICATION_NAME = "flashfusion"
# Bump only on an incompatible change to workflow code: DBOS recovers a PENDING workflow only
# in a process running the same application_version (research/job-engine.md, caveat 4).
APPLICATION_VERSION = "ff-1"
# Schema of the DBOS system tables on PostgreSQL; SQLite has no schemas.
DBOS_SCHEMA = "dbos"

# name -> DBOS.register_queue keyword arguments.
QUEUES: dict[str, dict[str, Any]] = {
    # Transactional email: a few at a time per executor, plenty overall.
    "email": {"worker_concurrency": 4},
    # CSV exports read whole tables; keep them from crowding the database.
    "export": {"worker_concurrency": 1, "global_concurrency": 2},
    # Print files and mockups are CPU-bound: one at a time per executor.
    "render": {"worker_concurrency": 1},
    # Listing-copy batches: each job runs many provider calls concurrently inside its steps.
    "content": {"worker_concurrency": 2},
    # Safeguard screens: CPU-light text checks, a few at a time.
    "safeguard": {"worker_concurrency": 2},
    # Trademark register imports stream large XML files: one at a time anywhere.
    "trademark_import": {"worker_concurrency": 1, "global_concurrency": 1},
    # Everything else that is small.
    "default": {"worker_concurrency": 4},
}

_launched = False


def system_database_url(settings: Settings | None = None) -> str:
    return sync_database_url((settings or get_settings()).database_url)


def dbos_config(settings: Settings) -> DBOSConfig:
    return {
        "name": APPLICATION_NAME,
        "system_database_url": system_database_url(settings),
        "executor_id": settings.WORKER_ID,
        "application_version": APPLICATION_VERSION,
        "log_level": "WARNING",
        "run_migrations": True,
    }


def migrate(settings: Settings | None = None) -> None:
    """Create or upgrade the DBOS system tables in the app database."""
    settings = settings or get_settings()
    url = system_database_url(settings)
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    DBOS.migrate(url, schema=DBOS_SCHEMA)
    if url.startswith("sqlite"):
        # WAL: readers never block the writer; the setting persists in the file.
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        connection.execute("PRAGMA journal_mode=WAL")
        connection.close()


def launch(settings: Settings | None = None) -> None:
    """Start this process's executor (blocking call; run it in a thread from async code)."""
    global _launched
    settings = settings or get_settings()
    import flashfusion.tasks  # noqa: F401  (registers every workflow before launch)

    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(config=dbos_config(settings))
    DBOS.launch()
    for name, options in QUEUES.items():
        DBOS.register_queue(name, on_conflict="always_update", **options)
    _launched = True


def shutdown() -> None:
    global _launched
    if _launched:
        DBOS.destroy(destroy_registry=False)
        _launched = False


def is_launched() -> bool:
    return _launched


@cache
def client(url: str) -> DBOSClient:
    """A DBOS client used only to write enqueue rows through the caller's own connection."""
    return DBOSClient(
        system_database_url=url,
        dbos_system_schema=DBOS_SCHEMA,
        application_name=APPLICATION_NAME,
        lazy=True,
    )
