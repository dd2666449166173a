"""Password policy (ASVS V2.1) and argon2id hashing (ASVS V2.4)."""

import pytest
from argon2 import PasswordHasher

from flashfusion.config import get_settings
from flashfusion.kit import password
from flashfusion.kit.password import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordPolicyError,
    check_policy,
    dummy_hash,
    hash_password,
    needs_rehash,
    normalize,
    verify_password,
)

COMMON_MESSAGE = (
    "This password is one of the 10,000 most common passwords; choose another "
    "(a passphrase of several unrelated words works well)."
)


def test_length_bounds_are_8_and_128() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (8, 128)
    check_policy("k3v!n-zq")  # exactly 8
    check_policy("z" * 7 + "q" + "x" * 120)  # exactly 128
    with pytest.raises(PasswordPolicyError) as short:
        check_policy("k3v!n-z")
    assert str(short.value) == "Use at least 8 characters."
    with pytest.raises(PasswordPolicyError) as long:
        check_policy("x" * 129)
    assert str(long.value) == "Use at most 128 characters."


def test_length_counts_characters_not_bytes() -> None:
    # Eight non-ASCII characters are 16+ bytes in UTF-8 but are an acceptable length.
    check_policy("éèàüöñçå")
    with pytest.raises(PasswordPolicyError):
        check_policy("éèàüöñç")


def test_spaces_and_unicode_are_allowed_without_composition_rules() -> None:
    check_policy("correct horse battery staple")
    check_policy("всё будет хорошо")
    check_policy("lowercaseonlybutlong")


def test_common_password_list_has_10000_entries() -> None:
    common = password._common_passwords()
    assert len(common) == 10_000
    assert {"password", "123456789", "iloveyou", "qwertyuiop", "password1"} <= common


@pytest.mark.parametrize("value", ["password1", "PASSWORD1", "Password1", "qwertyuiop", "12345678"])
def test_common_passwords_are_rejected_case_insensitively(value: str) -> None:
    with pytest.raises(PasswordPolicyError) as error:
        check_policy(value)
    assert str(error.value) == COMMON_MESSAGE


def test_password_equal_to_email_is_rejected() -> None:
    with pytest.raises(PasswordPolicyError) as error:
        check_policy("Alice.Smith@Example.com", email="alice.smith@example.com")
    assert str(error.value) == "Don't use your email address as your password."
    check_policy("alice.smith@example.com!", email="alice.smith@example.com")
    # Without an email the same string is just a long password.
    check_policy("alice.smith@example.com")


def test_policy_applies_to_the_nfkc_normalized_password() -> None:
    # Full-width letters normalize to ASCII: "ｐａｓｓｗｏｒｄ１" is "password1".
    assert normalize("ｐａｓｓｗｏｒｄ１") == "password1"
    with pytest.raises(PasswordPolicyError) as error:
        check_policy("ｐａｓｓｗｏｒｄ１")
    assert str(error.value) == COMMON_MESSAGE


def test_hash_is_argon2id_with_configured_cost() -> None:
    settings = get_settings()
    digest = hash_password("correct horse battery staple")
    assert digest.startswith("$argon2id$v=19$")
    assert (
        f"m={settings.PASSWORD_HASH_MEMORY_KIB},t={settings.PASSWORD_HASH_TIME_COST},"
        f"p={settings.PASSWORD_HASH_PARALLELISM}$"
    ) in digest
    assert "correct horse" not in digest
    # A random salt: the same password never hashes the same twice.
    assert digest != hash_password("correct horse battery staple")


def test_verify_password() -> None:
    digest = hash_password("correct horse battery staple")
    assert verify_password(digest, "correct horse battery staple")
    assert not verify_password(digest, "correct horse battery stapl")
    assert not verify_password(digest, "Correct horse battery staple")
    assert not verify_password(digest, "")


def test_verify_normalizes_like_hash() -> None:
    # "é" typed as one code point or as "e" + combining accent is the same password.
    digest = hash_password("caf\u00e9 au lait!")
    assert verify_password(digest, "cafe\u0301 au lait!")


def test_verify_with_a_broken_hash_is_false_not_an_error() -> None:
    assert not verify_password("not-a-hash", "whatever")
    assert not verify_password("$argon2id$v=19$m=1,t=1,p=1$broken", "whatever")
    assert not verify_password("", "whatever")


def test_needs_rehash_when_cost_changes() -> None:
    assert not needs_rehash(hash_password("correct horse battery staple"))
    weaker = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash("x" * 12)
    assert needs_rehash(weaker)
    assert verify_password(weaker, "x" * 12)  # still verifies, then gets upgraded on login


def test_dummy_hash_is_a_real_hash_of_an_unguessable_password() -> None:
    digest = dummy_hash()
    assert digest.startswith("$argon2id$")
    assert digest == dummy_hash()  # computed once
    assert not verify_password(digest, "")
    assert not verify_password(digest, "password")
