"""API key format (prefix, 37 random characters, CRC32 checksum), keyed hashes, tokens."""

import hashlib
import hmac
import string
import zlib

import pytest

from flashfusion.kit import crypto
from flashfusion.kit.crypto import (
    API_KEY_PREFIX,
    constant_time_equals,
    derive_key,
    generate_api_key,
    is_well_formed_api_key,
    keyed_hash,
    random_token,
    sha256_hex,
)

ALPHABET = string.ascii_letters + string.digits


def test_api_key_layout_is_prefix_body_and_crc32_checksum() -> None:
    key = generate_api_key()
    assert key.startswith("ffk_")
    assert API_KEY_PREFIX == "ffk_"
    assert len(key) == 4 + 37 + 6
    body, checksum = key[4:41], key[41:]
    assert all(c in ALPHABET for c in body + checksum)
    # The checksum is CRC32 of the body, written as 6 base62 digits, most significant first.
    number = zlib.crc32(body.encode())
    expected = ""
    for _ in range(6):
        number, rem = divmod(number, 62)
        expected = ALPHABET[rem] + expected
    assert checksum == expected
    assert is_well_formed_api_key(key)


def test_api_keys_are_random() -> None:
    keys = {generate_api_key() for _ in range(200)}
    assert len(keys) == 200
    # 37 base62 characters: no two bodies share even their first 10 characters in 200 draws.
    assert len({k[4:14] for k in keys}) == 200


def test_checksum_catches_a_single_character_typo() -> None:
    key = generate_api_key()
    for position in (4, 20, 40):  # body characters
        replacement = "a" if key[position] != "a" else "b"
        typo = key[:position] + replacement + key[position + 1 :]
        assert not is_well_formed_api_key(typo)
    checksum_typo = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert not is_well_formed_api_key(checksum_typo)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ffk_",
        "sk_live_" + "a" * 43,
        "FFK_" + "a" * 43,  # the prefix is case-sensitive
        "ffk_" + "a" * 42,  # one character short
        "ffk_" + "a" * 44,  # one character long
        "ffk_" + "a" * 36 + "-" + "a" * 6,  # outside base62
        "ffk_" + "é" * 43,
    ],
)
def test_malformed_keys_are_rejected(value: str) -> None:
    assert not is_well_formed_api_key(value)


def test_well_formed_key_with_swapped_checksum_is_rejected() -> None:
    first, second = generate_api_key(), generate_api_key()
    assert not is_well_formed_api_key(first[:41] + second[41:])


def test_keyed_hash_is_hmac_sha256_with_a_key_per_purpose() -> None:
    value = "ffk_example"
    digest = keyed_hash(value, purpose="api-key")
    assert len(digest) == 64
    assert all(c in "0123456789abcdef" for c in digest)
    assert digest == keyed_hash(value, purpose="api-key")
    assert digest != keyed_hash(value, purpose="csrf")
    assert digest != keyed_hash(value + "x", purpose="api-key")
    # Not a plain hash: without the secret the digest cannot be recomputed.
    assert digest != sha256_hex(value)
    expected = hmac.new(derive_key("hmac:api-key"), value.encode(), hashlib.sha256).hexdigest()
    assert digest == expected


def test_derive_key_depends_on_label_and_master_secret() -> None:
    secret_a = b"a" * 48
    secret_b = b"b" * 48
    key = derive_key("aes:kek", secret_a)
    assert len(key) == 32
    assert key == derive_key("aes:kek", secret_a)
    assert key != derive_key("aes:other", secret_a)
    assert key != derive_key("aes:kek", secret_b)
    # The default comes from the configured secret, not from a constant.
    assert derive_key("aes:kek") not in (key, derive_key("aes:kek", secret_b))


def test_sha256_hex() -> None:
    assert sha256_hex("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_random_token_is_256_bits_url_safe_by_default() -> None:
    token = random_token()
    # 32 bytes in URL-safe base64 without padding: 43 characters.
    assert len(token) == 43
    assert all(c in ALPHABET + "-_" for c in token)
    assert len(random_token(16)) == 22
    assert len({random_token() for _ in range(100)}) == 100


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")
    assert constant_time_equals("", "")


def test_base62_width_fits_any_crc32() -> None:
    # 62**6 > 2**32: the largest CRC32 still fits in six digits without wrapping.
    assert crypto._base62(2**32 - 1, 6) != crypto._base62(0, 6)
    assert crypto._base62(0, 6) == "aaaaaa"
    assert crypto._base62(61, 6) == "aaaaa9"
    assert crypto._base62(62, 6) == "aaaaba"
