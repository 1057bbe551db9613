"""The one place opa-python-client's and aiohttp's exceptions become ours.

Anything that says the server cannot answer (refused or dropped
connections, time-outs, 5xx after the client's retries, an unexpected
status) is BackendUnavailableError; a policy or data document the server
refuses to compile is a ConfigurationError naming ``AP_POLICY_DIR``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
from opa_client import errors as opa

from artifact_plane.errors import ArtifactPlaneError, BackendUnavailableError, ConfigurationError

BACKEND = "policy server"


def _detail(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    expression = getattr(exc, "expression", None)
    if isinstance(exc, opa.RegoParseError):
        return str(exc)
    if message or expression:
        return f"{expression}: {message}" if expression and message else str(message or expression)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@contextlib.asynccontextmanager
async def translated(action: str, where: str) -> AsyncIterator[None]:
    """Raise ours (``from`` the client's) for anything raised while doing ``action`` at ``where``."""
    try:
        yield
    except ArtifactPlaneError:
        raise  # already ours (BackendUnavailableError is also a builtin ConnectionError)
    except opa.RegoParseError as exc:
        raise ConfigurationError(
            "AP_POLICY_DIR", f"the policy server at {where} refused to {action}: {_detail(exc)}"
        ) from exc
    except aiohttp.ClientResponseError as exc:
        raise BackendUnavailableError(
            BACKEND, f"cannot {action} at {where}: HTTP {exc.status} {exc.message}"
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
        raise BackendUnavailableError(BACKEND, f"cannot {action} at {where}: {_detail(exc)}") from exc
    except (
        opa.ConnectionsError,
        opa.QueryExecuteError,
        opa.PolicyNotFoundError,
        opa.DeletePolicyError,
        opa.PathNotFoundError,
    ) as exc:
        raise BackendUnavailableError(BACKEND, f"cannot {action} at {where}: {_detail(exc)}") from exc
    except ValueError as exc:  # a response that is not JSON (aiohttp's ContentTypeError is a ClientError)
        raise BackendUnavailableError(BACKEND, f"cannot {action} at {where}: bad answer: {exc}") from exc
