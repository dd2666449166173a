"""AES-256-GCM envelope encryption bound to the row that owns the value.

Each value gets its own random data key (DEK); the DEK is wrapped with the key-encryption key
(KEK) derived from the master secret. Both layers authenticate the same associated data --
`table:column:row_id` -- so a ciphertext copied into another row or column does not decrypt.
"""

import hashlib
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from flashfusion.kit.crypto import derive_key

_VERSION = b"\x01"
_NONCE = 12
_KID = 8


class DecryptionError(Exception):
    """The value was tampered with, moved to another row, or written under another secret."""


def _kek() -> bytes:
    return derive_key("aes:kek")


def _kid(kek: bytes) -> bytes:
    return hashlib.sha256(kek).digest()[:_KID]


def bound_to(table: str, column: str, row_id: uuid.UUID) -> bytes:
    return f"{table}:{column}:{row_id}".encode()


def encrypt(plaintext: str, *, aad: bytes) -> bytes:
    kek = _kek()
    dek = AESGCM.generate_key(bit_length=256)
    wrap_nonce, data_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, dek, aad)
    ciphertext = AESGCM(dek).encrypt(data_nonce, plaintext.encode(), aad)
    return _VERSION + _kid(kek) + wrap_nonce + wrapped + data_nonce + ciphertext


def decrypt(blob: bytes, *, aad: bytes) -> str:
    if not blob or blob[:1] != _VERSION:
        raise DecryptionError("unknown ciphertext format")
    kek = _kek()
    offset = 1
    kid = blob[offset : offset + _KID]
    offset += _KID
    if kid != _kid(kek):
        raise DecryptionError("encrypted under a different secret key")
    wrap_nonce = blob[offset : offset + _NONCE]
    offset += _NONCE
    wrapped = blob[offset : offset + 48]
    offset += 48
    data_nonce = blob[offset : offset + _NONCE]
    offset += _NONCE
    # A truncated value would otherwise fail inside AESGCM with ValueError (short nonce).
    if len(blob) < offset + 16:
        raise DecryptionError("truncated ciphertext")
    try:
        dek = AESGCM(kek).decrypt(wrap_nonce, wrapped, aad)
        return AESGCM(dek).decrypt(data_nonce, blob[offset:], aad).decode()
    except InvalidTag as e:
        raise DecryptionError("authentication failed") from e
