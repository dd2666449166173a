from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import Model


class WorkerHeartbeat(Model):
    """One row per job executor (DBOS executor_id); the janitor reads it to find dead ones."""

    __tablename__ = "worker_heartbeats"

    executor_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # serve | worker
    hostname: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    # A random id per process start: tells a restart from a second live process with the same id.
    instance_nonce: Mapped[str] = mapped_column(String(32), nullable=False)
    application_version: Mapped[str] = mapped_column(String(64), nullable=False)
    started_at: Mapped[datetime] = mapped_column(nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    # Set when the janitor resumed this executor's workflows elsewhere.
    reaped_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
