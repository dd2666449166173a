import uuid
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flashfusion.models.base import RecordModel, StringEnum

if TYPE_CHECKING:
    from flashfusion.models.organization import Organization
    from flashfusion.models.user import User


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    editor = "editor"
    viewer = "viewer"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]


ROLE_RANK = {Role.owner: 3, Role.admin: 2, Role.editor: 1, Role.viewer: 0}


class Member(RecordModel):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        # Exactly one owner per workspace, enforced by the database as well as the service.
        Index(
            "members_one_owner_key",
            "organization_id",
            unique=True,
            sqlite_where=text("role = 'owner'"),
            postgresql_where=text("role = 'owner'"),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="cascade"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="cascade"), nullable=False, index=True
    )
    role: Mapped[Role] = mapped_column(StringEnum(Role, 16), nullable=False)

    user: Mapped["User"] = relationship(lazy="raise")
    organization: Mapped["Organization"] = relationship(lazy="raise")
