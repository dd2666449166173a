"""Every encrypted column of the app, with the associated data its values are bound to, and the
re-wrap of one batch of them (used by `flashfusion secrets rotate`).

A new encrypted column must be listed here, or rotation would leave its values under the old
key (tests/kit/test_encryption_rotation.py checks that every LargeBinary column written with
`encryption.encrypt` is listed).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit import encryption
from flashfusion.models import (
    AICredential,
    Invitation,
    OAuthState,
    PlatformConnection,
    User,
    UserToken,
)


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[Any]
    column: str
    # The associated data of a row's value (from the row's id: every one is bound by id).
    aad: Callable[[uuid.UUID], bytes]

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


def _bound(table: str, column: str) -> Callable[[uuid.UUID], bytes]:
    return lambda row_id: encryption.bound_to(table, column, row_id)


def _column(model: type[Any], column: str) -> EncryptedColumn:
    return EncryptedColumn(model, column, _bound(model.__tablename__, column))


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    # ai/service.py credential_aad
    _column(AICredential, "encrypted_api_key"),
    # user/mfa.py _aad
    _column(User, "totp_secret_encrypted"),
    _column(User, "totp_pending_secret_encrypted"),
    # user/service.py, email/tasks.py
    _column(UserToken, "token_encrypted"),
    # invitation/service.py, email/tasks.py
    _column(Invitation, "token_encrypted"),
    # connector/token.py credentials_aad / webhook_secret_aad
    _column(PlatformConnection, "encrypted_credentials"),
    _column(PlatformConnection, "encrypted_webhook_secret"),
    # connector/service.py _state_aad
    _column(OAuthState, "encrypted_code_verifier"),
)


@dataclass
class BatchResult:
    rewrapped: int = 0
    current: int = 0
    # Row ids whose value decrypts under no known key (or was moved or damaged).
    failed: list[uuid.UUID] = field(default_factory=list)
    last_id: uuid.UUID | None = None


async def count(session: AsyncSession, spec: EncryptedColumn) -> int:
    from sqlalchemy import func

    column = getattr(spec.model, spec.column)
    result = await session.execute(
        select(func.count()).select_from(spec.model).where(column.is_not(None))
    )
    return int(result.scalar_one())


async def rewrap_batch(
    session: AsyncSession, spec: EncryptedColumn, *, after: uuid.UUID | None, limit: int
) -> BatchResult:
    """Re-wrap the next `limit` values (by id, after `after`) under the current key. Each
    update is a compare-and-set on the old value, so a value the app rewrote meanwhile (already
    under the current key) is left alone."""
    column = getattr(spec.model, spec.column)
    statement = (
        select(spec.model.id, column).where(column.is_not(None)).order_by(spec.model.id)
    ).limit(limit)
    if after is not None:
        statement = statement.where(spec.model.id > after)
    rows = (await session.execute(statement)).all()
    result = BatchResult()
    for row_id, blob in rows:
        result.last_id = row_id
        try:
            new = encryption.rewrap(bytes(blob), aad=spec.aad(row_id))
        except encryption.DecryptionError:
            result.failed.append(row_id)
            continue
        if new is None:
            result.current += 1
            continue
        await session.execute(
            update(spec.model)
            .where(spec.model.id == row_id, column == blob)
            .values({spec.column: new})
            .execution_options(synchronize_session=False)
        )
        result.rewrapped += 1
    return result
