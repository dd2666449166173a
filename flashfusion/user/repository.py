import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update

from flashfusion.kit.repository import Repository
from flashfusion.models import RecoveryCode, User, UserToken, UserTokenPurpose, utc_now


class UserRepository(Repository[User]):
    model = User

    async def get_by_email(self, email: str) -> User | None:
        statement = self.get_base_statement().where(User.email == email.strip().lower())
        return await self.get_one_or_none(statement)

    async def claim_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Record `step` as used; False if it (or a later one) was used already (replay)."""
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.totp_last_used_step.is_(None), User.totp_last_used_step < step),
            )
            .values(totp_last_used_step=step)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class UserTokenRepository(Repository[UserToken]):
    model = UserToken

    async def get_by_hash(self, token_hash: str, purpose: UserTokenPurpose) -> UserToken | None:
        statement = self.get_base_statement().where(
            UserToken.token_hash == token_hash, UserToken.purpose == purpose
        )
        return await self.get_one_or_none(statement)

    async def claim(self, token: UserToken) -> bool:
        """Mark the token used; False if another request used it first."""
        result = await self.session.execute(
            update(UserToken)
            .where(UserToken.id == token.id, UserToken.used_at.is_(None))
            .values(used_at=utc_now(), token_encrypted=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count_since(
        self, user_id: uuid.UUID, purpose: UserTokenPurpose, since: datetime
    ) -> int:
        statement = select(func.count()).where(
            UserToken.user_id == user_id,
            UserToken.purpose == purpose,
            UserToken.created_at >= since,
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def invalidate_unused(self, user_id: uuid.UUID, purpose: UserTokenPurpose) -> None:
        await self.session.execute(
            update(UserToken)
            .where(
                UserToken.user_id == user_id,
                UserToken.purpose == purpose,
                UserToken.used_at.is_(None),
            )
            .values(used_at=utc_now(), token_encrypted=None)
        )


class RecoveryCodeRepository(Repository[RecoveryCode]):
    model = RecoveryCode

    async def replace_all(self, user_id: uuid.UUID, code_hashes: Sequence[str]) -> None:
        await self.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.deleted_at.is_(None))
            .values(deleted_at=utc_now())
        )
        for code_hash in code_hashes:
            self.session.add(RecoveryCode(user_id=user_id, code_hash=code_hash))
        await self.session.flush()

    async def use(self, user_id: uuid.UUID, code_hash: str) -> bool:
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
                RecoveryCode.deleted_at.is_(None),
            )
            .values(used_at=utc_now())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count_unused(self, user_id: uuid.UUID) -> int:
        statement = self.get_base_statement().where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
        return len(await self.get_all(statement))

    async def delete_all(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.deleted_at.is_(None))
            .values(deleted_at=utc_now())
        )
