"""AES-256-GCM envelope encryption bound to the row that owns the value.

Each value gets its own random data key (DEK); the DEK is wrapped with the key-encryption key
(KEK). Both layers authenticate the same associated data -- `table:column:row_id` -- so a
ciphertext copied into another row or column does not decrypt.

The KEK is derived from `ENCRYPTION_KEY` when it is set, else from the master secret. Every
value names its KEK by a key id (the first 8 bytes of SHA-256 of the KEK), so the keys listed
in `PREVIOUS_ENCRYPTION_KEYS` still decrypt what they wrote, and `rewrap` moves a value to the
current KEK by re-wrapping its data key only (the data ciphertext is kept as it is). The layout
is unchanged from the first version: values written before the key ring existed decrypt as
they always did.

Layout: version(1) | key id(8) | wrap nonce(12) | wrapped DEK + tag(48) | data nonce(12) |
ciphertext + tag.
"""

import hashlib
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from flashfusion.config import MIN_SECRET_KEY_LENGTH, ConfigurationError, get_settings
from flashfusion.kit.crypto import derive_key

_VERSION = b"\x01"
_NONCE = 12
_KID = 8
_WRAPPED = 48  # a 256-bit DEK and its 16-byte tag
_HEADER = 1 + _KID + _NONCE + _WRAPPED + _NONCE
_KEK_LABEL = "aes:kek"


class DecryptionError(Exception):
    """The value was tampered with, moved to another row, or written under another secret."""


def kek_for(raw_key: str) -> bytes:
    """The KEK a raw key (an ENCRYPTION_KEY, or a master secret) stands for."""
    return derive_key(_KEK_LABEL, raw_key.encode())


def _checked(raw: str, name: str) -> str:
    if len(raw) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"{name} holds a key shorter than {MIN_SECRET_KEY_LENGTH} characters; generate one "
            "with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return raw


def previous_raw_keys() -> list[str]:
    value = get_settings().PREVIOUS_ENCRYPTION_KEYS
    if value is None:
        return []
    return [
        _checked(part.strip(), "FLASHFUSION_PREVIOUS_ENCRYPTION_KEYS")
        for part in value.get_secret_value().split(",")
        if part.strip()
    ]


def _kek() -> bytes:
    """The current KEK: everything is encrypted (and re-wrapped) under it."""
    key = get_settings().ENCRYPTION_KEY
    if key is not None:
        return kek_for(_checked(key.get_secret_value(), "FLASHFUSION_ENCRYPTION_KEY"))
    return derive_key(_KEK_LABEL)


def _kid(kek: bytes) -> bytes:
    return hashlib.sha256(kek).digest()[:_KID]


def _keyring() -> dict[bytes, bytes]:
    """Key id -> KEK for every key that may decrypt: the current one and the previous ones."""
    ring = {_kid(kek): kek for kek in (kek_for(raw) for raw in previous_raw_keys())}
    current = _kek()
    ring[_kid(current)] = current
    return ring


def current_key_id() -> bytes:
    return _kid(_kek())


def key_id_of(blob: bytes) -> bytes:
    return blob[1 : 1 + _KID]


def bound_to(table: str, column: str, row_id: uuid.UUID) -> bytes:
    return f"{table}:{column}:{row_id}".encode()


def encrypt(plaintext: str, *, aad: bytes) -> bytes:
    kek = _kek()
    dek = AESGCM.generate_key(bit_length=256)
    wrap_nonce, data_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, dek, aad)
    ciphertext = AESGCM(dek).encrypt(data_nonce, plaintext.encode(), aad)
    return _VERSION + _kid(kek) + wrap_nonce + wrapped + data_nonce + ciphertext


def _open(blob: bytes, aad: bytes) -> tuple[bytes, bytes, str]:
    """(key id, DEK, plaintext) of a value, checking both layers."""
    if not blob or blob[:1] != _VERSION:
        raise DecryptionError("unknown ciphertext format")
    kid = key_id_of(blob)
    kek = _keyring().get(kid)
    if kek is None:
        raise DecryptionError("encrypted under a different secret key")
    offset = 1 + _KID
    wrap_nonce = blob[offset : offset + _NONCE]
    offset += _NONCE
    wrapped = blob[offset : offset + _WRAPPED]
    offset += _WRAPPED
    data_nonce = blob[offset : offset + _NONCE]
    offset += _NONCE
    # A truncated value would otherwise fail inside AESGCM with ValueError (short nonce).
    if len(blob) < offset + 16:
        raise DecryptionError("truncated ciphertext")
    try:
        dek = AESGCM(kek).decrypt(wrap_nonce, wrapped, aad)
        plaintext = AESGCM(dek).decrypt(data_nonce, blob[offset:], aad).decode()
    except InvalidTag as e:
        raise DecryptionError("authentication failed") from e
    return kid, dek, plaintext


def decrypt(blob: bytes, *, aad: bytes) -> str:
    return _open(blob, aad)[2]


def rewrap(blob: bytes, *, aad: bytes) -> bytes | None:
    """The value with its data key wrapped under the current KEK (None: it already is).

    Only the 48-byte wrapped key and its nonce change; the data nonce and ciphertext are kept.
    Both layers are checked first, so a damaged or misplaced value raises DecryptionError
    instead of being carried over."""
    kid, dek, _ = _open(blob, aad)
    kek = _kek()
    if kid == _kid(kek):
        return None
    wrap_nonce = os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, dek, aad)
    return _VERSION + _kid(kek) + wrap_nonce + wrapped + blob[_HEADER - _NONCE :]
