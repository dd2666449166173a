import uuid

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel


class PricingRule(RecordModel):
    """How a workspace prices: margin or markup target, rounding, minimum profit, channel."""

    __tablename__ = "pricing_rules"
    __table_args__ = (
        # At most one default rule per workspace.
        Index(
            "pricing_rules_one_default_key",
            "organization_id",
            unique=True,
            sqlite_where=text("is_default AND deleted_at IS NULL"),
            postgresql_where=text("is_default AND deleted_at IS NULL"),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    target_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    rounding: Mapped[str] = mapped_column(String(8), nullable=False)
    min_profit: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    include_shipping: Mapped[bool] = mapped_column(nullable=False, default=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    is_default: Mapped[bool] = mapped_column(nullable=False, default=False)
