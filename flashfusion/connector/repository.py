"""Every SQL statement of connections, OAuth states and connection problem notices."""

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime

from sqlalchemy import Select, update

from flashfusion.kit.repository import Repository, TenantRepository
from flashfusion.models import OAuthState, PlatformConnection


class PlatformConnectionRepository(TenantRepository[PlatformConnection]):
    model = PlatformConnection

    def list_statement(
        self,
        organization_ids: AbstractSet[uuid.UUID],
        *,
        platform: str | None = None,
        include_disconnected: bool = True,
    ) -> Select[PlatformConnection]:
        statement = self.statement_for_organizations(organization_ids)
        if platform is not None:
            statement = statement.where(PlatformConnection.platform == platform)
        if not include_disconnected:
            statement = statement.where(PlatformConnection.status != "disconnected")
        return statement.order_by(
            PlatformConnection.platform, PlatformConnection.created_at, PlatformConnection.id
        )

    async def for_account(
        self, organization_id: uuid.UUID, platform: str, account_id: str, sandbox: bool
    ) -> PlatformConnection | None:
        """The row of that account (a reconnect of the same shop updates it)."""
        return await self.get_one_or_none(
            self.get_base_statement().where(
                PlatformConnection.organization_id == organization_id,
                PlatformConnection.platform == platform,
                PlatformConnection.account_id == account_id,
                PlatformConnection.sandbox == sandbox,
            )
        )

    async def for_worker(self, connection_id: uuid.UUID) -> PlatformConnection | None:
        """Any workspace's connection, by id: for jobs, which act for the system."""
        return await self.get_one_or_none(
            self.get_base_statement()
            .where(PlatformConnection.id == connection_id)
            .execution_options(populate_existing=True)
        )

    async def lock(self, connection_id: uuid.UUID) -> PlatformConnection | None:
        """The row, re-read and locked until the end of the transaction: `FOR UPDATE` on
        PostgreSQL; on SQLite every writing transaction begins IMMEDIATE (flashfusion/db.py),
        which already holds the database's single write lock."""
        return await self.get_one_or_none(
            self.get_base_statement()
            .where(PlatformConnection.id == connection_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def linked_to(self, connection_id: uuid.UUID) -> Sequence[PlatformConnection]:
        return await self.get_all(
            self.get_base_statement().where(
                PlatformConnection.linked_connection_id == connection_id
            )
        )

    async def expiring_oauth(
        self, platforms: AbstractSet[str], before: datetime, limit: int
    ) -> Sequence[PlatformConnection]:
        """Active connections of `platforms` whose token expires before `before` (system job)."""
        return await self.get_all(
            self.get_base_statement()
            .where(
                PlatformConnection.platform.in_(platforms),
                PlatformConnection.status == "active",
                PlatformConnection.token_expires_at.is_not(None),
                PlatformConnection.token_expires_at < before,
            )
            .order_by(PlatformConnection.token_expires_at)
            .limit(limit)
        )

    async def claim_problem(
        self,
        connection_id: uuid.UUID,
        *,
        code: str,
        message: str,
        action: str,
        status: str | None,
        now: datetime,
    ) -> bool:
        """Record a new problem, atomically: True only for the one caller that set it (the
        same problem already notified changes nothing), so one notice goes out per problem
        however many workers see it at once."""
        values: dict[str, object] = {
            "problem_code": code,
            "problem_message": message,
            "problem_action": action,
            "problem_notified_at": now,
            "modified_at": now,
        }
        if status is not None:
            values["status"] = status
        result = await self.session.execute(
            update(PlatformConnection)
            .where(
                PlatformConnection.id == connection_id,
                PlatformConnection.problem_code.is_distinct_from(code)
                | PlatformConnection.problem_notified_at.is_(None),
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_status(self, connection_id: uuid.UUID, status: str) -> None:
        await self.session.execute(
            update(PlatformConnection)
            .where(PlatformConnection.id == connection_id)
            .values(status=status)
            .execution_options(synchronize_session=False)
        )


class OAuthStateRepository(Repository[OAuthState]):
    model = OAuthState

    async def by_hash(self, state_hash: str, *, lock: bool = False) -> OAuthState | None:
        statement = self.get_base_statement().where(OAuthState.state_hash == state_hash)
        if lock:
            statement = statement.with_for_update()
        return await self.get_one_or_none(statement.execution_options(populate_existing=True))
