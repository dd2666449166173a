"""The encryption key ring and `flashfusion secrets rotate`: values written under key A still
decrypt once B is the current key and A is listed as previous; rotation re-wraps only the data
key; after it A can be dropped; a value copied into another row never decrypts; a value under no
known key is reported (table, column, row) with exit code 1."""

import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy import LargeBinary, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from flashfusion.config import get_settings
from flashfusion.connector.cli import rotate_all, secrets_app
from flashfusion.kit import encryption
from flashfusion.kit.encrypted_columns import ENCRYPTED_COLUMNS
from flashfusion.kit.encryption import DecryptionError, bound_to, decrypt, encrypt, rewrap
from flashfusion.models import AICredential, Invitation, Role, User
from flashfusion.models.base import Model
from flashfusion.user import mfa
from tests.fixtures.objects import Tenant, create_user

KEY_A = "a" * 20 + "-key-A-0123456789abcdef"
KEY_B = "b" * 20 + "-key-B-0123456789abcdef"
KEY_C = "c" * 20 + "-key-C-0123456789abcdef"
ROW = uuid.UUID("0193a3f2-7c4e-7d21-9b6a-5f0e2d8c4b11")
AAD = bound_to("platform_connections", "encrypted_credentials", ROW)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> "Keys":
    return Keys(monkeypatch)


class Keys:
    """Switch the current and previous keys (settings are cached: patch the live object)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def use(self, current: str | None, *previous: str) -> None:
        settings = get_settings()
        self.monkeypatch.setattr(
            settings, "ENCRYPTION_KEY", SecretStr(current) if current else None
        )
        self.monkeypatch.setattr(
            settings,
            "PREVIOUS_ENCRYPTION_KEYS",
            SecretStr(",".join(previous)) if previous else None,
        )


def master() -> str:
    return get_settings().secret_key().decode()


# --- the key ring ------------------------------------------------------------------------------


def test_previous_key_decrypts_and_rewrap_moves_only_the_data_key(keys: Keys) -> None:
    keys.use(KEY_A)
    blob = encrypt("shpat_secret-token-1234", aad=AAD)
    kid_a = blob[1:9]
    keys.use(KEY_B)
    with pytest.raises(DecryptionError, match="encrypted under a different secret key"):
        decrypt(blob, aad=AAD)
    keys.use(KEY_B, KEY_A)
    assert decrypt(blob, aad=AAD) == "shpat_secret-token-1234"
    new = rewrap(blob, aad=AAD)
    assert new is not None
    assert new[1:9] == encryption.current_key_id() != kid_a
    assert len(new) == len(blob)
    assert new[:1] == blob[:1] == b"\x01"
    assert new[9:21] != blob[9:21]  # a fresh wrap nonce
    assert new[69:] == blob[69:]  # the data nonce and ciphertext are untouched
    assert rewrap(new, aad=AAD) is None  # already current: nothing to do
    keys.use(KEY_B)
    assert decrypt(new, aad=AAD) == "shpat_secret-token-1234"
    with pytest.raises(DecryptionError, match="encrypted under a different secret key"):
        decrypt(blob, aad=AAD)


def test_values_written_before_the_key_ring_rotate_from_the_master_secret(keys: Keys) -> None:
    keys.use(None)
    blob = encrypt("written-under-the-master-secret", aad=AAD)
    # The first format: the KEK derived from the master secret, unchanged.
    assert blob[1:9] == encryption._kid(encryption.kek_for(master()))
    keys.use(KEY_B, master())
    new = rewrap(blob, aad=AAD)
    assert new is not None
    keys.use(KEY_B)
    assert decrypt(new, aad=AAD) == "written-under-the-master-secret"


def test_a_rewrapped_value_copied_to_another_row_does_not_decrypt(keys: Keys) -> None:
    keys.use(KEY_A)
    blob = encrypt("secret", aad=AAD)
    keys.use(KEY_B, KEY_A)
    new = rewrap(blob, aad=AAD)
    assert new is not None
    other = bound_to("platform_connections", "encrypted_credentials", uuid.UUID(int=7))
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(new, aad=other)
    with pytest.raises(DecryptionError, match="authentication failed"):
        rewrap(blob, aad=other)  # moved values are refused, not carried over


def test_a_short_key_is_a_configuration_error_that_says_how_to_fix_it(keys: Keys) -> None:
    from flashfusion.config import ConfigurationError

    keys.use("too-short")
    with pytest.raises(ConfigurationError, match="FLASHFUSION_ENCRYPTION_KEY holds a key shorter"):
        encrypt("x", aad=AAD)
    keys.use(KEY_B, "short")
    with pytest.raises(ConfigurationError, match="FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS"):
        decrypt(b"\x01" + b"\x00" * 100, aad=AAD)


def test_every_binary_column_is_listed_for_rotation() -> None:
    # LargeBinary columns that hold no secret: an export's CSV, a MinHash signature.
    plain = {"audit_exports.content", "content_fingerprints.signature"}
    binary = {
        f"{table.name}.{column.name}"
        for table in Model.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    assert binary - plain == {spec.label for spec in ENCRYPTED_COLUMNS}


# --- rotating the database ---------------------------------------------------------------------


async def _seed(session: AsyncSession, tenant: Tenant) -> tuple[User, AICredential, Invitation]:
    user = await create_user(session, totp_secret="JBSWY3DPEHPK3PXP")
    credential = AICredential(
        id=uuid.uuid4(), organization_id=tenant.organization.id, provider="openai", key_hint="abcd"
    )
    credential.encrypted_api_key = encrypt(
        "sk-live-abcd", aad=bound_to("ai_credentials", "encrypted_api_key", credential.id)
    )
    session.add(credential)
    from datetime import timedelta

    from flashfusion.models import utc_now

    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=tenant.organization.id,
        email="guest@example.com",
        role=Role.viewer,
        token_hash=uuid.uuid4().hex,
        expires_at=utc_now() + timedelta(days=1),
    )
    invitation.token_encrypted = encrypt(
        "invite-secret", aad=bound_to("invitations", "token_encrypted", invitation.id)
    )
    session.add(invitation)
    await session.flush()
    return user, credential, invitation


async def test_rotate_rewraps_every_column_then_the_old_key_can_go(
    session: AsyncSession, tenant: Tenant, keys: Keys
) -> None:
    keys.use(KEY_A)
    user, credential, invitation = await _seed(session, tenant)
    before = bytes(credential.encrypted_api_key or b"")
    keys.use(KEY_B, KEY_A)
    reports = {r.label: r for r in await rotate_all(batch_size=1)}
    assert reports["users.totp_secret_encrypted"].rewrapped >= 1
    assert reports["ai_credentials.encrypted_api_key"].rewrapped == 1
    assert reports["invitations.token_encrypted"].rewrapped == 1
    assert all(not r.failed for r in reports.values())
    # Idempotent: a second run finds everything current.
    again = {r.label: r for r in await rotate_all(batch_size=2)}
    assert sum(r.rewrapped for r in again.values()) == 0
    assert again["ai_credentials.encrypted_api_key"].current == 1

    keys.use(KEY_B)
    for row in (user, credential, invitation):
        await session.refresh(row)
    after = bytes(credential.encrypted_api_key or b"")
    assert after != before
    assert after[69:] == before[69:]
    assert mfa.decrypt_secret(user, user.totp_secret_encrypted or b"", "totp_secret_encrypted") == (
        "JBSWY3DPEHPK3PXP"
    )
    assert decrypt(after, aad=bound_to("ai_credentials", "encrypted_api_key", credential.id)) == (
        "sk-live-abcd"
    )
    assert (
        decrypt(
            invitation.token_encrypted or b"",
            aad=bound_to("invitations", "token_encrypted", invitation.id),
        )
        == "invite-secret"
    )


async def test_rotate_reports_a_value_under_no_known_key_and_carries_on(
    session: AsyncSession, tenant: Tenant, keys: Keys
) -> None:
    keys.use(KEY_C)
    lost = await create_user(session, totp_secret="JBSWY3DPEHPK3PXP")
    keys.use(KEY_A)
    kept = await create_user(session, totp_secret="KRSXG5CTMVRXEZLU")
    keys.use(KEY_B, KEY_A)
    reports = {r.label: r for r in await rotate_all(batch_size=10)}
    report = reports["users.totp_secret_encrypted"]
    assert lost.id in report.failed
    assert kept.id not in report.failed
    await session.refresh(kept)
    keys.use(KEY_B)
    assert mfa.decrypt_secret(kept, kept.totp_secret_encrypted or b"", "totp_secret_encrypted") == (
        "KRSXG5CTMVRXEZLU"
    )


def test_cli_rotate_prints_counts_names_failures_and_exits_1(keys: Keys) -> None:
    """Through the command itself, on committed rows (removed afterwards)."""
    from flashfusion.cli import _run
    from flashfusion.db import unit_of_work

    ids: list[uuid.UUID] = []

    async def seed() -> None:
        async with unit_of_work() as session:
            keys.use(KEY_C)
            ids.append((await create_user(session, totp_secret="JBSWY3DPEHPK3PXP")).id)
            keys.use(KEY_A)
            ids.append((await create_user(session, totp_secret="KRSXG5CTMVRXEZLU")).id)

    async def remove() -> None:
        async with unit_of_work() as session:
            await session.execute(delete(User).where(User.id.in_(ids)))

    async def stored(user_id: uuid.UUID) -> bytes:
        async with unit_of_work(read_only=True) as session:
            value = await session.scalar(
                select(User.totp_secret_encrypted).where(User.id == user_id)
            )
            return bytes(value or b"")

    _run(seed)
    try:
        keys.use(KEY_B, KEY_A)
        runner = CliRunner()
        result = runner.invoke(secrets_app, ["rotate", "--batch-size", "1"])
        assert result.exit_code == 1, result.output
        output = " ".join(result.output.split())
        assert f"table users, column totp_secret_encrypted, row {ids[0]}" in output
        assert "1 value(s) decrypt under no known key" in output
        assert "FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS" in output
        assert "Traceback" not in output
        assert _run(lambda: stored(ids[1]))[1:9] == encryption.current_key_id()

        # The lost value re-entered (here: removed), the next run succeeds and says what next.
        async def drop_lost() -> None:
            async with unit_of_work() as session:
                await session.execute(delete(User).where(User.id == ids[0]))

        _run(drop_lost)
        result = runner.invoke(secrets_app, ["rotate"])
        assert result.exit_code == 0, result.output
        output = " ".join(result.output.split())
        assert "Done: 0 value(s) re-wrapped" in output
        assert "remove the old key(s) from FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS" in output
    finally:
        _run(remove)
