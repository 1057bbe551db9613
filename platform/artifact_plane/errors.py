"""The Artifact Plane exception tree.

Every error a caller can see is one of these; adapters translate their
driver's exceptions into them at the boundary (``raise ... from exc``), so no
driver exception ever crosses a port::

    ArtifactPlaneError
    ├── InvalidInputError        bad input; nothing was written
    ├── NotFoundError            no such artifact / execution / URI (or not visible to you)
    ├── ConflictError            exists already, lost a race, wrong current state
    ├── AuthenticationError      no valid credentials (API: 401 / UNAUTHENTICATED)
    ├── PolicyDeniedError        policy said no; carries the reasons and decision id
    ├── BackendUnavailableError  a backend could not be reached; safe to retry
    ├── DeadlineExceededError    a wait ran out of time (also a builtin TimeoutError)
    └── ConfigurationError       settings that cannot work; fix them and restart

Each class carries structured fields and builds its own message, so the API
can map them to stable codes without parsing text.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ArtifactPlaneError",
    "AuthenticationError",
    "BackendUnavailableError",
    "ConfigurationError",
    "ConflictError",
    "DeadlineExceededError",
    "InvalidInputError",
    "NotFoundError",
    "PolicyDeniedError",
]


class ArtifactPlaneError(Exception):
    """Base of every error raised by the Artifact Plane."""

    code = "INTERNAL"


class InvalidInputError(ArtifactPlaneError, ValueError):
    """The request was malformed; nothing was written.

    Attributes:
        field: the offending input (``artifact_id``, ``uri``, ``version``, ...).
        reason: what is wrong with it and, where useful, what is expected.
    """

    code = "INVALID_INPUT"

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid {field}: {reason}")


class NotFoundError(ArtifactPlaneError, LookupError):
    """The thing does not exist, or the caller may not know that it does.

    Cross-tenant reads raise exactly this error, with the same message as a
    missing artifact, so existence never leaks across tenants.
    """

    code = "NOT_FOUND"

    def __init__(self, kind: str, ref: str) -> None:
        self.kind = kind
        self.ref = ref
        super().__init__(f"{kind} not found: {ref}")


class ConflictError(ArtifactPlaneError):
    """The request conflicts with what is stored (exists already, raced, wrong state)."""

    code = "CONFLICT"

    def __init__(self, ref: str, reason: str) -> None:
        self.ref = ref
        self.reason = reason
        super().__init__(f"conflict on {ref}: {reason}")


class AuthenticationError(ArtifactPlaneError, PermissionError):
    """The request carries no valid credentials (a missing, expired or forged token)."""

    code = "UNAUTHENTICATED"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"not authenticated: {reason}")


class PolicyDeniedError(ArtifactPlaneError, PermissionError):
    """Policy denied the operation; ``reasons`` says why, ``decision_id`` finds it in the log."""

    code = "FORBIDDEN"

    def __init__(self, action: str, reasons: Sequence[str], decision_id: str | None = None) -> None:
        self.action = action
        self.reasons = list(reasons) or ["denied by policy"]
        self.decision_id = decision_id
        super().__init__(f"{action} denied: " + "; ".join(self.reasons))


class BackendUnavailableError(ArtifactPlaneError, ConnectionError):
    """A backend (database, bucket, graph, policy server) could not be reached.

    Nothing was acknowledged; the caller may retry the whole operation.
    """

    code = "UNAVAILABLE"

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"{backend} unavailable: {reason} (retry; check the backend is running)")


class DeadlineExceededError(ArtifactPlaneError, TimeoutError):
    """A wait ended before the condition held (e.g. an artifact still pending)."""

    code = "DEADLINE_EXCEEDED"

    def __init__(self, ref: str, timeout: float, state: str) -> None:
        self.ref = ref
        self.timeout = timeout
        self.state = state
        super().__init__(f"{ref} still {state} after {timeout:g}s")


class ConfigurationError(ArtifactPlaneError):
    """Settings that cannot work; ``setting`` names the variable to fix."""

    code = "CONFIGURATION"

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"bad setting {setting}: {reason}")
