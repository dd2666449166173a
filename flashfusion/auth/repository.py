import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from flashfusion.kit.repository import Repository
from flashfusion.models import LoginAttempt, UserSession, utc_now


class UserSessionRepository(Repository[UserSession]):
    model = UserSession

    async def get_by_token_hash(self, token_hash: str) -> UserSession | None:
        statement = self.get_base_statement().where(UserSession.token_hash == token_hash)
        return await self.get_one_or_none(statement)

    async def list_active(self, user_id: uuid.UUID, now: datetime) -> Sequence[UserSession]:
        statement = (
            self.get_base_statement()
            .where(
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.last_seen_at.desc())
        )
        return await self.get_all(statement)

    async def revoke_all(self, user_id: uuid.UUID, *, except_id: uuid.UUID | None = None) -> int:
        statement = update(UserSession).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
        )
        if except_id is not None:
            statement = statement.where(UserSession.id != except_id)
        result = await self.session.execute(statement.values(revoked_at=utc_now()))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def set_current_organization(
        self, session_id: uuid.UUID, organization_id: uuid.UUID
    ) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id)
            .values(current_organization_id=organization_id, modified_at=UserSession.modified_at)
        )

    async def touch(self, session_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id)
            .values(last_seen_at=now, modified_at=UserSession.modified_at)
        )


class LoginAttemptRepository(Repository[LoginAttempt]):
    model = LoginAttempt

    async def count_failures(
        self,
        *,
        since: datetime,
        account_key: str | None = None,
        ip: str | None = None,
        device_nonce: str | None = None,
        untrusted_only: bool = False,
    ) -> tuple[int, datetime | None]:
        """Failures since `since` matching the filters, and the time of the latest one."""
        statement = select(func.count(), func.max(LoginAttempt.created_at)).where(
            LoginAttempt.success.is_(False), LoginAttempt.created_at >= since
        )
        if account_key is not None:
            statement = statement.where(LoginAttempt.account_key == account_key)
        if ip is not None:
            statement = statement.where(LoginAttempt.ip == ip)
        if device_nonce is not None:
            statement = statement.where(LoginAttempt.device_nonce == device_nonce)
        if untrusted_only:
            statement = statement.where(LoginAttempt.device_nonce.is_(None))
        # max() keeps the column's type: an aware UTC datetime on SQLite as on PostgreSQL.
        count, latest = (await self.session.execute(statement)).one()
        return int(count), latest
