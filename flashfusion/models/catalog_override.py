import uuid
from typing import Any

from sqlalchemy import ForeignKey, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import JSONType, RecordModel


class CatalogOverride(RecordModel):
    """A workspace's changes to the bundled catalog (own costs, disabled variants, margins)."""

    __tablename__ = "catalog_overrides"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, unique=True
    )
    document: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
