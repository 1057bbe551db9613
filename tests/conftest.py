"""Shared test fixtures. Backend-specific fixtures live beside their tests."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_server(name: str, reason: str) -> None:
    """Skip a test whose server is missing, but fail under CI when it could run here."""
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


# Shared by every module that needs PostgreSQL or GCS (imported last: they use require_server).
from tests.gcs import gcs_bucket, gcs_server, own_emulator  # noqa: E402, F401
from tests.pg import postgres_server, postgres_url  # noqa: E402, F401
