"""TOTP (RFC 6238) second factor and one-time recovery codes."""

import base64
import hmac
import io
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.kit import encryption
from flashfusion.kit.crypto import keyed_hash
from flashfusion.models import User
from flashfusion.user.repository import RecoveryCodeRepository, UserRepository

ISSUER = "FlashFusion"
TOTP_INTERVAL = 30
# One step either side tolerates clock drift of up to 30 s (RFC 6238 section 5.2).
TOTP_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _aad(user: User, column: str) -> bytes:
    return encryption.bound_to("users", column, user.id)


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt_secret(user: User, secret: str, column: str) -> bytes:
    return encryption.encrypt(secret, aad=_aad(user, column))


def decrypt_secret(user: User, blob: bytes, column: str) -> str:
    return encryption.decrypt(blob, aad=_aad(user, column))


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code, inline (no request leaves the page)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals `code`, within the allowed drift."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int((now if now is not None else time.time()) // TOTP_INTERVAL)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * TOTP_INTERVAL), code):
            return step
    return None


async def verify_totp(session: AsyncSession, user: User, code: str) -> bool:
    """True once per valid code: a code that was accepted before is refused (replay)."""
    if user.totp_secret_encrypted is None:
        return False
    secret = decrypt_secret(user, user.totp_secret_encrypted, "totp_secret_encrypted")
    step = matching_step(secret, code)
    if step is None:
        return False
    return await UserRepository.from_session(session).claim_totp_step(user.id, step)


def _recovery_hash(user: User, code: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return keyed_hash(f"{user.id}:{normalized}", purpose="recovery-code")


def looks_like_recovery_code(code: str) -> bool:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return len(normalized) == 10 and all(c in _RECOVERY_ALPHABET for c in normalized)


async def generate_recovery_codes(session: AsyncSession, user: User) -> list[str]:
    """Ten fresh codes (about 49 bits each); old ones stop working. Shown once."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    await RecoveryCodeRepository.from_session(session).replace_all(
        user.id, [_recovery_hash(user, c) for c in codes]
    )
    return codes


async def use_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    if not looks_like_recovery_code(code):
        return False
    return await RecoveryCodeRepository.from_session(session).use(
        user.id, _recovery_hash(user, code)
    )


async def verify_second_factor(session: AsyncSession, user: User, code: str) -> str | None:
    """'totp' or 'recovery_code' if `code` is a valid, unused second factor, else None."""
    if await verify_totp(session, user, code):
        return "totp"
    if await use_recovery_code(session, user, code):
        return "recovery_code"
    return None
