"""Secrets, read from the environment only (never from YAML or DAG files)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from voicelake.config import Config


class MissingSecretError(RuntimeError):
    """A required secret is not set in the environment."""


def pseudonym_key(config: Config) -> bytes:
    """The HMAC key for pseudonymising customer and agent identifiers.

    Read from the environment variable ``pii.pseudonym_key_env`` names. Only where the
    overlay sets ``pii.dev_key_file`` (the local overlay does) a random key is generated
    once and kept in that file (mode 600), so local runs are stable without set-up.
    """
    value = os.environ.get(config.pii.pseudonym_key_env)
    if value:
        return value.encode("utf-8")
    if not config.pii.dev_key_file:
        raise MissingSecretError(
            f"set {config.pii.pseudonym_key_env} to the pseudonymisation key "
            f"(environment {config.env!r} has no local development key)")
    path = Path(config.pii.dev_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode("utf-8")
