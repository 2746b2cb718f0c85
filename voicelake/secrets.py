"""Secrets, read from the environment only (never from YAML or DAG files)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from voicelake.config import Config


class MissingSecretError(RuntimeError):
    """A required secret is not set in the environment."""


@dataclass(frozen=True)
class PseudonymKeyRef:
    """Where a process finds the pseudonym key: the environment variable ``env``, else the
    local development key file ``dev_key_file``. Holds no secret, so it may travel to Spark
    executors inside a UDF; each executor reads the key itself (`read_pseudonym_key`)."""

    env: str
    dev_key_file: str | None = None


@lru_cache(maxsize=8)
def read_pseudonym_key(ref: PseudonymKeyRef) -> bytes:
    """The key ``ref`` points at, read once per process (environment first, then the file)."""
    value = os.environ.get(ref.env)
    if value:
        return value.encode("utf-8")
    if ref.dev_key_file and Path(ref.dev_key_file).is_file():
        return Path(ref.dev_key_file).read_text().strip().encode("utf-8")
    raise MissingSecretError(f"set {ref.env} to the pseudonymisation key on the Spark driver and executors"
                             + (f" (no development key file {ref.dev_key_file})" if ref.dev_key_file else ""))


def pseudonym_key_ref(config: Config) -> PseudonymKeyRef:
    """The reference executors resolve; checks here (on the driver) that the key can be found,
    creating the local development key where the overlay allows one."""
    pseudonym_key(config)
    return PseudonymKeyRef(config.pii.pseudonym_key_env, config.pii.dev_key_file)


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
