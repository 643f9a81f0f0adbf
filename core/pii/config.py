"""Build the policy and the guard from settings (the one place that knows where the key lives)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.errors import InvalidInput
from core.pii.guard import Guard
from core.pii.policy import Policy
from core.settings import PLACEHOLDER_SECRET, Settings


def policy_from_settings(settings: Settings) -> Policy:
    return Policy.build([r.model_dump() for r in settings.pii.rules], settings.pii.forbidden_datasets)


def _local_key(settings: Settings) -> bytes:
    """Key of the identity tokens (``pii.ids``) when no hash key is configured: random, kept on
    this host only (0600), never in Elasticsearch."""
    path = Path(settings.data_dir) / "pii" / "token.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return bytes.fromhex(key)


def guard_from_settings(settings: Settings) -> Guard | None:
    """The ingest guard, or None when scanning is switched off (``SOC_PII_ENABLED=false``)."""
    if not settings.pii.enabled:
        return None
    policy = policy_from_settings(settings)
    configured = settings.pii.hash_key.get_secret_value()
    if configured != PLACEHOLDER_SECRET:
        return Guard(policy, configured.encode(), names=settings.pii.names)
    if policy.uses_hash and not settings.demo:
        raise InvalidInput(
            "The personal-information policy uses the 'hash' action but SOC_PII_HASH_KEY is the placeholder: "
            "set it to a long random value (kept outside Elasticsearch), or run with SOC_DEMO=true."
        )
    return Guard(policy, _local_key(settings), names=settings.pii.names)
