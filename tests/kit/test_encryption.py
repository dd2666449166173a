"""AES-256-GCM envelope encryption bound to `table:column:row_id`."""

import uuid

import pytest

from flashfusion.kit import encryption
from flashfusion.kit.crypto import derive_key
from flashfusion.kit.encryption import DecryptionError, bound_to, decrypt, encrypt

ROW = uuid.UUID("0193a3f2-7c4e-7d21-9b6a-5f0e2d8c4b11")
AAD = bound_to("connections", "access_token", ROW)


def test_bound_to_names_table_column_and_row() -> None:
    assert AAD == b"connections:access_token:0193a3f2-7c4e-7d21-9b6a-5f0e2d8c4b11"


def test_round_trip() -> None:
    for plaintext in ("", "secret-token", "ünïcødé ✓", "x" * 10_000):
        assert decrypt(encrypt(plaintext, aad=AAD), aad=AAD) == plaintext


def test_layout_version_key_id_wrapped_key_and_ciphertext() -> None:
    plaintext = "secret-token"
    blob = encrypt(plaintext, aad=AAD)
    # version(1) + key id(8) + wrap nonce(12) + wrapped 256-bit DEK with tag(48)
    # + data nonce(12) + ciphertext(len) + tag(16)
    assert blob[:1] == b"\x01"
    assert len(blob) == 1 + 8 + 12 + 48 + 12 + len(plaintext) + 16
    assert plaintext.encode() not in blob


def test_each_encryption_uses_fresh_keys_and_nonces() -> None:
    first, second = encrypt("same", aad=AAD), encrypt("same", aad=AAD)
    assert first != second
    assert first[:9] == second[:9]  # same version and key id
    assert first[9:21] != second[9:21]  # different wrap nonces
    assert first[21:69] != second[21:69]  # different data keys


@pytest.mark.parametrize(
    "aad",
    [
        bound_to("connections", "access_token", uuid.UUID(int=1)),  # another row
        bound_to("connections", "refresh_token", ROW),  # another column
        bound_to("users", "access_token", ROW),  # another table
    ],
)
def test_value_moved_to_another_row_column_or_table_does_not_decrypt(aad: bytes) -> None:
    blob = encrypt("secret-token", aad=AAD)
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(blob, aad=aad)


@pytest.mark.parametrize("position", [9, 30, 75, -1])
def test_any_flipped_bit_is_detected(position: int) -> None:
    blob = bytearray(encrypt("secret-token", aad=AAD))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt(bytes(blob), aad=AAD)


def test_flipped_key_id_says_another_secret() -> None:
    blob = bytearray(encrypt("secret-token", aad=AAD))
    blob[1] ^= 0x01
    with pytest.raises(DecryptionError, match="encrypted under a different secret key"):
        decrypt(bytes(blob), aad=AAD)


def test_unknown_format_is_refused() -> None:
    blob = encrypt("secret-token", aad=AAD)
    with pytest.raises(DecryptionError, match="unknown ciphertext format"):
        decrypt(b"\x02" + blob[1:], aad=AAD)
    with pytest.raises(DecryptionError, match="unknown ciphertext format"):
        decrypt(b"", aad=AAD)


@pytest.mark.parametrize("length", [9, 15, 21, 69, 75, 81, 96])
def test_truncated_value_is_a_decryption_error(length: int) -> None:
    blob = encrypt("secret-token", aad=AAD)
    with pytest.raises(DecryptionError):
        decrypt(blob[:length], aad=AAD)


def test_value_written_under_another_master_secret_does_not_decrypt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blob = encrypt("secret-token", aad=AAD)
    monkeypatch.setattr(encryption, "_kek", lambda: derive_key("aes:kek", b"another" * 8))
    with pytest.raises(DecryptionError, match="encrypted under a different secret key"):
        decrypt(blob, aad=AAD)
    # And the other way round: what the other secret wrote, ours cannot read.
    foreign = encrypt("secret-token", aad=AAD)
    monkeypatch.undo()
    with pytest.raises(DecryptionError, match="encrypted under a different secret key"):
        decrypt(foreign, aad=AAD)
    assert decrypt(blob, aad=AAD) == "secret-token"
