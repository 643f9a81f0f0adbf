"""TOTP second factor: enrolment, and single-use verification.

A code is accepted for the previous, current or next 30-second step (clock drift), and at most
once: the accepted step is stored on the user record with an optimistic-concurrency write, so a
replayed or concurrently reused code (same or older step) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken

from api.identity.models import Session
from api.identity.passwords import verify_password
from api.identity.records import IdentityStore
from core.auditing import Auditor
from core.errors import Conflict, InvalidInput, PermissionDenied

_MAX_ROUNDS = 20


class SecondFactor:
    def __init__(self, records: IdentityStore, auditor: Auditor) -> None:
        self.records = records
        self.auditor = auditor

    def _fernet(self) -> Fernet:
        # TOTP seeds are encrypted at rest with a key derived from the API secret, which is not
        # stored in Elasticsearch: reading the users index does not yield second factors.
        secret = self.records.settings.api.secret_key.get_secret_value()
        key = hashlib.sha256(b"qinglang-totp:" + secret.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(key))

    def _open(self, sealed: str | None) -> str:
        if not sealed:
            return ""
        try:
            return self._fernet().decrypt(sealed.encode()).decode()
        except InvalidToken:
            # The API secret changed since enrolment: the factor cannot be checked any more.
            return ""

    def _matching_step(self, sealed: str | None, code: str, now: datetime) -> int | None:
        secret = self._open(sealed)
        if not secret or not code:
            return None
        totp = pyotp.TOTP(secret)
        step = totp.timecode(now)
        given = code.strip().encode()  # bytes: any text the caller sends compares, in constant time
        for candidate in (step - 1, step, step + 1):
            if hmac.compare_digest(totp.generate_otp(candidate).encode(), given):
                return candidate
        return None

    def consume(self, username: str, code: str, now: datetime) -> bool:
        """True when ``code`` is right and its step was not used before; marks the step used."""
        for _round in range(_MAX_ROUNDS):
            user, seq, term = self.records.require(username)
            step = self._matching_step(user.totp_secret, code, now)
            if step is None or step <= user.totp_last_step:
                return False
            try:
                self.records.save(replace(user, totp_last_step=step), seq, term)
            except Conflict:
                continue  # re-read: a concurrent use of the same code now finds the step taken
            return True
        return False

    def setup(self, session: Session) -> dict[str, str]:
        """Start enrolment: a new secret (not active until confirmed with a code)."""
        user, seq, term = self.records.require(session.username)
        if user.totp_enabled:
            raise Conflict("A second factor is already enabled; disable it first.")
        secret = pyotp.random_base32()
        sealed = self._fernet().encrypt(secret.encode()).decode()
        self.records.save(replace(user, totp_secret=sealed), seq, term)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Qinglang")
        self.auditor.record(session.actor, "auth.totp_setup", user.username)
        return {"secret": secret, "provisioning_uri": uri}

    def enable(self, session: Session, code: str) -> None:
        user, _seq, _term = self.records.require(session.username)
        if not user.totp_secret:
            raise Conflict("Start with POST /api/v1/auth/totp/setup to get a secret.")
        if not self.consume(user.username, code, self.records.now()):
            raise InvalidInput("Wrong or already used one-time code; wait for the next code and try again.",
                               detail=[{"field": "code", "message": "wrong code"}])
        user, seq, term = self.records.require(session.username)
        self.records.save(replace(user, totp_enabled=True), seq, term)
        self.auditor.record(session.actor, "auth.totp_enable", user.username)

    def disable(self, session: Session, password: str) -> None:
        user, seq, term = self.records.require(session.username)
        if not verify_password(user.password_hash, password):
            raise PermissionDenied("The password is wrong.")
        self.records.save(replace(user, totp_enabled=False, totp_secret=None), seq, term)
        self.auditor.record(session.actor, "auth.totp_disable", user.username)
