import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class AISettings(RecordModel):
    """A workspace's AI choices: provider chain per task, model overrides and its budget."""

    __tablename__ = "ai_settings"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, unique=True
    )
    # Task type -> provider names, tried in order (missing task: the defaults).
    chains: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # Provider -> task type -> model (missing: the provider's default for the task).
    models: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    plan_tier: Mapped[str] = mapped_column(String(16), nullable=False, default="free")
    # Monthly cap in micro-USD; None: the plan tier's cap.
    monthly_cap_microusd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    soft_warning_percent: Mapped[int] = mapped_column(Integer, nullable=False, default=80)
    hard_stop: Mapped[bool] = mapped_column(nullable=False, default=True)
    offline_fallback: Mapped[bool] = mapped_column(nullable=False, default=True)
    cache_ttl_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=7 * 86400)
