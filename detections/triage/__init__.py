"""Triage: alert lifecycle (``alerts``), cases (``cases``) and event hunting (``hunt``).

Every user-triggered function takes ``actor`` and declares its permission with ``@requires``."""
