"""The one place google-cloud-storage's exceptions become ours.

Transient failures (connection errors, timeouts, 408/429/5xx) are retried by
the client with the store's retry policy (exponential backoff up to a
deadline); what is still failing then is BackendUnavailableError. Missing or
refused credentials and a missing bucket are a ConfigurationError: retrying
cannot help.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth
from google.cloud.storage import exceptions as media

from artifact_plane.errors import ArtifactPlaneError, BackendUnavailableError, ConfigurationError

BACKEND = "payloads"
BUCKET_HELP = "create the bucket, or point AP_PAYLOADS_URL at an existing one (gs://bucket/prefix)"
CREDENTIALS_HELP = (
    "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, "
    "or set STORAGE_EMULATOR_HOST to use an emulator"
)


@contextlib.contextmanager
def translated(action: str, where: str) -> Iterator[None]:
    """Raise ours (``from`` the driver's) for anything the client raises while doing ``action``."""
    try:
        yield
    except ArtifactPlaneError:
        raise  # already ours (BackendUnavailableError is also a builtin ConnectionError)
    except auth.DefaultCredentialsError as exc:
        raise ConfigurationError("GOOGLE_APPLICATION_CREDENTIALS", f"{exc}; {CREDENTIALS_HELP}") from exc
    except auth.RefreshError as exc:
        if getattr(exc, "retryable", False):
            raise BackendUnavailableError(BACKEND, f"cannot {action} {where}: {exc}") from exc
        reason = f"the credentials were refused ({exc}); {CREDENTIALS_HELP}"
        raise ConfigurationError("GOOGLE_APPLICATION_CREDENTIALS", reason) from exc
    except (api.Unauthorized, api.Forbidden) as exc:
        raise ConfigurationError(
            "AP_PAYLOADS_URL",
            f"access to {where} refused ({exc.code} {exc.message}): grant the service account "
            "roles/storage.objectAdmin on the bucket, or " + CREDENTIALS_HELP,
        ) from exc
    except api.NotFound as exc:
        # Object lookups answer None or NotFoundError where they happen: what gets here is the bucket.
        raise ConfigurationError("AP_PAYLOADS_URL", f"{where}: {exc.message}; {BUCKET_HELP}") from exc
    except api.RetryError as exc:
        cause = exc.cause if exc.cause is not None else exc
        raise BackendUnavailableError(BACKEND, f"cannot {action} {where}: gave up retrying: {cause}") from exc
    except api.GoogleAPICallError as exc:
        raise BackendUnavailableError(BACKEND, f"cannot {action} {where}: {exc.code} {exc.message}") from exc
    except (media.InvalidResponse, media.DataCorruption) as exc:
        if getattr(getattr(exc, "response", None), "status_code", None) == 404:
            raise ConfigurationError("AP_PAYLOADS_URL", f"{where}: not found; {BUCKET_HELP}") from exc
        raise BackendUnavailableError(BACKEND, f"cannot {action} {where}: {exc}") from exc
    except (requests.RequestException, auth.TransportError, ConnectionError, TimeoutError) as exc:
        raise BackendUnavailableError(BACKEND, f"cannot {action} {where}: {exc}") from exc
