"""Password policy (ASVS V2.1) and argon2id hashing (ASVS V2.4)."""

import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from flashfusion.config import get_settings

MIN_LENGTH = 8
# ASVS 2.1.2 asks that at least 64 characters be allowed; we accept up to 128.
MAX_LENGTH = 128


class PasswordPolicyError(ValueError):
    pass


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("flashfusion.data").joinpath("common-passwords.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


@cache
def _hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.PASSWORD_HASH_TIME_COST,
        memory_cost=settings.PASSWORD_HASH_MEMORY_KIB,
        parallelism=settings.PASSWORD_HASH_PARALLELISM,
    )


def normalize(password: str) -> str:
    # NFKC so the same password typed on different keyboards hashes the same (ASVS 2.1.x allows
    # any printable Unicode; no truncation, no composition rules).
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, email: str | None = None) -> None:
    """Raise PasswordPolicyError with a message a user can act on."""
    password = normalize(password)
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"Use at most {MAX_LENGTH} characters.")
    if password.lower() in _common_passwords():
        raise PasswordPolicyError(
            "This password is one of the 10,000 most common passwords; choose another "
            "(a passphrase of several unrelated words works well)."
        )
    if email and password.lower() == email.lower():
        raise PasswordPolicyError("Don't use your email address as your password.")


def hash_password(password: str) -> str:
    return _hasher().hash(normalize(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, normalize(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


# Hash of a random password, verified against when the account does not exist, so that
# "no such user" costs the same time as "wrong password".
@cache
def dummy_hash() -> str:
    return hash_password("flashfusion-timing-equalizer-not-a-real-password")
