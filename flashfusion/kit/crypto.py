"""Random tokens, keyed hashes and the API key format."""

import hashlib
import hmac
import secrets
import string
import zlib
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flashfusion.config import get_settings

API_KEY_PREFIX = "ffk_"
_API_KEY_RANDOM_LENGTH = 37
_ALPHABET = string.ascii_letters + string.digits
_BASE62 = _ALPHABET


@cache
def derive_key(label: str, secret: bytes | None = None) -> bytes:
    """A 256-bit key for one purpose, derived from the master secret with HKDF-SHA256."""
    master = secret if secret is not None else get_settings().secret_key()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(master)


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 hex digest with a key dedicated to `purpose`."""
    return hmac.new(derive_key(f"hmac:{purpose}"), value.encode(), hashlib.sha256).hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def random_token(nbytes: int = 32) -> str:
    """URL-safe random token; 32 bytes = 256 bits."""
    return secrets.token_urlsafe(nbytes)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return "".join(reversed(chars))


def generate_api_key() -> str:
    """`ffk_` + 37 random base62 characters + 6-character CRC32 checksum.

    The checksum lets secret scanners and our own parser reject typos without a lookup.
    """
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_API_KEY_RANDOM_LENGTH))
    return f"{API_KEY_PREFIX}{body}{_base62(zlib.crc32(body.encode()), 6)}"


def is_well_formed_api_key(value: str) -> bool:
    if not value.startswith(API_KEY_PREFIX):
        return False
    rest = value[len(API_KEY_PREFIX) :]
    if len(rest) != _API_KEY_RANDOM_LENGTH + 6 or not all(c in _ALPHABET for c in rest):
        return False
    body, checksum = rest[:_API_KEY_RANDOM_LENGTH], rest[_API_KEY_RANDOM_LENGTH:]
    return hmac.compare_digest(checksum, _base62(zlib.crc32(body.encode()), 6))
