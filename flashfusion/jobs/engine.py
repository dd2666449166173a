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

# How often the executor looks for new work on the queues a person waits on (renders,
# publishes, their webhooks). DBOS's default is 1 s, so each hop of render -> publish ->
# webhook -> handshake waits 0.5 s on average for the poll alone; at 0.2 s, 0.1 s. The cost,
# measured on this machine (2 cores, SQLite, idle executor, these 4 queues at 0.2 s and the
# others at 1 s): 11 % of a core instead of 6 %, i.e. some 20 more short transactions a
# second. FlashFusion's choice: about a second off the demo's first listing for that.
QUICK_POLL_SECONDS = 0.2

# name -> DBOS.register_queue keyword arguments.
QUEUES: dict[str, dict[str, Any]] = {
    # Transactional email: a few at a time per executor, plenty overall.
    "email": {"worker_concurrency": 4},
    # CSV exports read whole tables; keep them from crowding the database.
    "export": {"worker_concurrency": 1, "global_concurrency": 2},
    # Print files and mockups are CPU-bound: one at a time per executor.
    "render": {"worker_concurrency": 1, "polling_interval_sec": QUICK_POLL_SECONDS},
    # Listing-copy batches: each job runs many provider calls concurrently inside its steps.
    "content": {"worker_concurrency": 2},
    # Safeguard screens: CPU-light text checks, a few at a time.
    "safeguard": {"worker_concurrency": 2},
    # Trademark register imports stream large XML files: one at a time anywhere.
    "trademark_import": {"worker_concurrency": 1, "global_concurrency": 1},
    # Publishing to platforms: each run waits mostly on the platform's rate limits (which are
    # enforced per account in connector/ratelimit.py, not by this queue). Nothing on this queue
    # waits for other jobs, so its runs always finish and free their slots.
    "publish": {"worker_concurrency": 8, "polling_interval_sec": QUICK_POLL_SECONDS},
    # Publishing through a provider's handshake (Printify, publishing/tasks.py): a run waits
    # for the webhook, for the publish quota and for the linked channel's intent, which runs on
    # `publish` -- never on this queue, so no run here holds a slot that the work it waits
    # for needs. A waiting run costs a coroutine, not CPU: up to one Printify publish window's
    # worth (200 publishes per 30 minutes, developers.printify.com "API Usage Guidelines" via
    # research/platform-apis.md §1) may be in flight, so a batch beyond one window waits inside
    # the quota and goes the moment the window allows, not a handful at a time behind it.
    "publish_handshake": {"worker_concurrency": 200, "polling_interval_sec": QUICK_POLL_SECONDS},
    # Inbound webhook events, order imports and drift checks.
    "sync": {"worker_concurrency": 4, "polling_interval_sec": QUICK_POLL_SECONDS},
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
    from flashfusion.connector.tasks import install_schedules as install_connection_schedules
    from flashfusion.order.tasks import install_schedules as install_order_schedules
    from flashfusion.publishing.tasks import install_schedules as install_publishing_schedules

    install_order_schedules()
    install_publishing_schedules()
    install_connection_schedules()
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
