import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import Model, StringEnum, utc_now


class BreakerState(StrEnum):
    closed = "closed"  # calls flow
    open = "open"  # calls refused until retry_at
    half_open = "half_open"  # one trial call is in flight


class ConnectorBreaker(Model):
    """The circuit breaker of one platform connection (connector/breaker.py), shared by every
    process. No row: closed with no failures."""

    __tablename__ = "connector_breakers"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("platform_connections.id", ondelete="cascade"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    state: Mapped[BreakerState] = mapped_column(
        StringEnum(BreakerState, 16), nullable=False, default=BreakerState.closed
    )
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The cool-down the next opening waits (doubles after each failed trial, capped).
    cooldown_seconds: Mapped[float] = mapped_column(Float, nullable=False)
    opened_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    # While open: when a trial call may go (the circuit is half-open from then on).
    retry_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    trial_started_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)
    modified_at: Mapped[datetime] = mapped_column(nullable=False, default=utc_now, onupdate=utc_now)
