from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from flashfusion.models.base import RecordModel


class Organization(RecordModel):
    """A workspace: one brand or shop, shared by its members."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    slug: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
