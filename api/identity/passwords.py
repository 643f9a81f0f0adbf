"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import functools
import secrets
import string
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import InvalidInput

# argon2id with OWASP's minimum profile (19 MiB, 2 passes, 1 lane): strong against offline
# guessing while a login stays cheap on a small, shared host.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    """A valid hash to verify against when the user does not exist, so timing does not reveal names."""
    return _HASHER.hash("qinglang-dummy-password")

CLASSES = (
    ("lowercase letters", string.ascii_lowercase),
    ("uppercase letters", string.ascii_uppercase),
    ("digits", string.digits),
)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_policy(password: str, *, min_length: int, username: str, previous_hashes: Iterable[str] = ()) -> None:
    """Raise ``InvalidInput`` naming every rule the password breaks."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"at least {min_length} characters")
    for label, chars in CLASSES:
        if not any(c in chars for c in password):
            problems.append(f"at least one of {label}")
    if not any(not c.isalnum() for c in password):
        problems.append("at least one symbol")
    if username and username.lower() in password.lower():
        problems.append("must not contain the user name")
    if any(verify_password(h, password) for h in previous_hashes):
        problems.append("must differ from the recent passwords")
    if problems:
        raise InvalidInput("The password does not meet the policy: " + "; ".join(problems) + ". Choose another.",
                           detail=[{"field": "new_password", "message": p} for p in problems])


def generate_password(length: int = 20) -> str:
    """A random password that satisfies the policy."""
    alphabet = string.ascii_letters + string.digits + "-_.!@#%+="
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in candidate) and any(c.isupper() for c in candidate)
                and any(c.isdigit() for c in candidate) and any(not c.isalnum() for c in candidate)):
            return candidate
