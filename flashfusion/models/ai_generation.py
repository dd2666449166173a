import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class AIGeneration(RecordModel):
    """One AI generation on the cost ledger: who asked, which provider answered, what it cost."""

    __tablename__ = "ai_generations"
    __table_args__ = (Index(None, "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="set null"), nullable=True
    )
    task: Mapped[str] = mapped_column(String(32), nullable=False)
    # The provider and model that produced the result (the last one tried when all failed).
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # succeeded | failed
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    images: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Summed over every attempt, failed ones included; None when a price was unknown.
    cost_microusd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    price_version: Mapped[str] = mapped_column(String(32), nullable=False)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cache_hit: Mapped[bool] = mapped_column(nullable=False, default=False)
    # Every attempt: [{provider, model, outcome, error, latency_ms, retries}].
    fallback_path: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    repaired: Mapped[bool] = mapped_column(nullable=False, default=False)
    prompt_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prompt_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    prompt_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="set null"), nullable=True, index=True
    )
    listing_copy_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("listing_copies.id", ondelete="set null"), nullable=True, index=True
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
