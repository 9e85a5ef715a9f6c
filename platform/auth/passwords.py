"""Password hashing with argon2id (argon2-cffi: maintained, memory-hard, parameters in the hash)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"passwords need at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A hash to verify against when the user does not exist, so a wrong username costs as much
# time as a wrong password (no user enumeration by timing).
DUMMY_HASH = _hasher.hash("not-a-real-password-0")
