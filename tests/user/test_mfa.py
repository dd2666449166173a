"""TOTP (single use, one step of drift) and one-time recovery codes."""

import time
from base64 import b64decode

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit.crypto import keyed_hash
from flashfusion.kit.encryption import DecryptionError
from flashfusion.models import RecoveryCode, User
from flashfusion.user import mfa
from tests.fixtures.objects import create_user, totp_now

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_790_000_000.0  # a fixed instant, mid-step
STEP = int(NOW // 30)


def code_at(step: int, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(step * 30)


def test_matching_step_allows_one_step_of_drift_each_way() -> None:
    assert mfa.matching_step(SECRET, code_at(STEP), now=NOW) == STEP
    assert mfa.matching_step(SECRET, code_at(STEP - 1), now=NOW) == STEP - 1
    assert mfa.matching_step(SECRET, code_at(STEP + 1), now=NOW) == STEP + 1
    assert mfa.matching_step(SECRET, code_at(STEP - 2), now=NOW) is None
    assert mfa.matching_step(SECRET, code_at(STEP + 2), now=NOW) is None


def test_matching_step_checks_the_format() -> None:
    code = code_at(STEP)
    assert mfa.matching_step(SECRET, f" {code[:3]} {code[3:]} ", now=NOW) == STEP
    assert mfa.matching_step(SECRET, code[:5], now=NOW) is None
    assert mfa.matching_step(SECRET, code + "0", now=NOW) is None
    assert mfa.matching_step(SECRET, "12345a", now=NOW) is None
    assert mfa.matching_step(SECRET, "", now=NOW) is None
    # Another secret's current code does not match.
    other = pyotp.random_base32()
    if code_at(STEP, other) not in {code_at(s) for s in (STEP - 1, STEP, STEP + 1)}:
        assert mfa.matching_step(SECRET, code_at(STEP, other), now=NOW) is None


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = mfa.new_secret()
    assert len(secret) == 32
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert secret != mfa.new_secret()


async def test_secret_is_encrypted_bound_to_user_and_column(session: AsyncSession) -> None:
    user = await create_user(session, totp_secret=SECRET)
    other = await create_user(session)
    blob = user.totp_secret_encrypted
    assert blob is not None
    assert SECRET.encode() not in blob
    assert mfa.decrypt_secret(user, blob, "totp_secret_encrypted") == SECRET
    with pytest.raises(DecryptionError):
        mfa.decrypt_secret(other, blob, "totp_secret_encrypted")
    with pytest.raises(DecryptionError):
        mfa.decrypt_secret(user, blob, "totp_pending_secret_encrypted")


async def test_a_totp_code_works_once(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    code = totp_now(secret)
    assert await mfa.verify_totp(session, user, code) is True
    assert await mfa.verify_totp(session, user, code) is False
    await session.refresh(user)
    assert user.totp_last_used_step == mfa.matching_step(secret, code)


async def test_an_older_code_is_refused_after_a_newer_one(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    assert await mfa.verify_totp(session, user, totp_now(secret)) is True
    assert await mfa.verify_totp(session, user, totp_now(secret, -1)) is False
    # The next step's code (a phone running slightly fast) is still accepted once.
    assert await mfa.verify_totp(session, user, totp_now(secret, +1)) is True
    assert await mfa.verify_totp(session, user, totp_now(secret, +1)) is False


async def test_codes_outside_the_drift_window_are_refused(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    # Two steps away is outside the window, wherever inside the current step we are.
    assert await mfa.verify_totp(session, user, totp_now(secret, -3)) is False
    assert await mfa.verify_totp(session, user, totp_now(secret, +3)) is False
    await session.refresh(user)
    assert user.totp_last_used_step is None


async def test_user_without_totp_never_verifies(session: AsyncSession) -> None:
    user = await create_user(session)
    assert await mfa.verify_totp(session, user, "123456") is False
    assert await mfa.verify_second_factor(session, user, "123456") is None


async def test_recovery_codes_format_and_storage(session: AsyncSession) -> None:
    user = await create_user(session, totp_secret=SECRET)
    codes = await mfa.generate_recovery_codes(session, user)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11
        assert code[5] == "-"
        assert set(code.replace("-", "")) <= set("abcdefghjkmnpqrstuvwxyz23456789")
        assert mfa.looks_like_recovery_code(code)
    rows = (
        (await session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id)))
        .scalars()
        .all()
    )
    stored = {row.code_hash for row in rows}
    # Only keyed hashes are stored, salted with the user id.
    assert stored == {
        keyed_hash(f"{user.id}:{c.replace('-', '')}", purpose="recovery-code") for c in codes
    }
    assert not stored & set(codes)


async def test_a_recovery_code_works_once_in_any_spelling(session: AsyncSession) -> None:
    user = await create_user(session, totp_secret=SECRET)
    codes = await mfa.generate_recovery_codes(session, user)
    spelled = " " + codes[0].upper().replace("-", " ") + " "
    assert await mfa.use_recovery_code(session, user, spelled) is True
    assert await mfa.use_recovery_code(session, user, codes[0]) is False
    assert await mfa.use_recovery_code(session, user, codes[1].replace("-", "")) is True
    assert await mfa.use_recovery_code(session, user, "abcde-fghjk") is False
    assert await mfa.use_recovery_code(session, user, "not a code") is False
    unused = await session.execute(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.deleted_at.is_(None),
        )
    )
    assert len(unused.scalars().all()) == 8


async def test_recovery_codes_belong_to_their_user(session: AsyncSession) -> None:
    alice = await create_user(session, totp_secret=SECRET)
    bob = await create_user(session, totp_secret=SECRET)
    codes = await mfa.generate_recovery_codes(session, alice)
    await mfa.generate_recovery_codes(session, bob)
    assert await mfa.use_recovery_code(session, bob, codes[0]) is False
    assert await mfa.use_recovery_code(session, alice, codes[0]) is True


async def test_generating_new_codes_retires_the_old_ones(session: AsyncSession) -> None:
    user = await create_user(session, totp_secret=SECRET)
    old = await mfa.generate_recovery_codes(session, user)
    new = await mfa.generate_recovery_codes(session, user)
    for code in old:
        assert await mfa.use_recovery_code(session, user, code) is False
    assert await mfa.use_recovery_code(session, user, new[9]) is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abcde-fghjk", True),
        ("ABCDE FGHJK", True),
        ("abcdefghjk", True),
        ("abcde-fghj", False),  # too short
        ("abcde-fghij", False),  # "i" is not in the alphabet (looks like 1 and l)
        ("01234-56789", False),  # 0 and 1 are not in the alphabet
        ("123456", False),
    ],
)
def test_looks_like_recovery_code(value: str, expected: bool) -> None:
    assert mfa.looks_like_recovery_code(value) is expected


async def test_verify_second_factor_says_which_factor(session: AsyncSession) -> None:
    secret = pyotp.random_base32()
    user = await create_user(session, totp_secret=secret)
    codes = await mfa.generate_recovery_codes(session, user)
    assert await mfa.verify_second_factor(session, user, totp_now(secret)) == "totp"
    assert await mfa.verify_second_factor(session, user, codes[0]) == "recovery_code"
    assert await mfa.verify_second_factor(session, user, codes[0]) is None
    assert await mfa.verify_second_factor(session, user, totp_now(secret)) is None


def test_provisioning_uri_and_inline_qr_code() -> None:
    user = User(email="alice@example.com")
    uri = mfa.provisioning_uri(user, SECRET)
    assert uri == (
        f"otpauth://totp/FlashFusion:alice%40example.com?secret={SECRET}&issuer=FlashFusion"
    )
    data_uri = mfa.qr_svg_data_uri(uri)
    prefix = "data:image/svg+xml;base64,"
    assert data_uri.startswith(prefix)
    svg = b64decode(data_uri[len(prefix) :])
    assert b"<svg" in svg
    # Nothing is fetched from elsewhere to show the code.
    assert b"http://" not in svg.replace(b"http://www.w3.org/", b"")


def test_totp_now_helper_matches_the_clock() -> None:
    secret = pyotp.random_base32()
    assert mfa.matching_step(secret, totp_now(secret)) in {
        int(time.time() // 30) - 1,
        int(time.time() // 30),
    }
