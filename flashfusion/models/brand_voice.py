import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class BrandVoice(RecordModel):
    """How a workspace's copy should sound: tone, audience, words to use and never to use."""

    __tablename__ = "brand_voices"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    tone: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    audience: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    vocabulary: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    banned_words: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    example_copy: Mapped[str] = mapped_column(Text, nullable=False, default="")
    is_default: Mapped[bool] = mapped_column(nullable=False, default=False)
