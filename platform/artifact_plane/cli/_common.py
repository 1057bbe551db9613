"""What every command shares: settings built once, the acting subject, running the plane, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from artifact_plane.errors import (
    ArtifactPlaneError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    DeadlineExceededError,
    InvalidInputError,
    NotFoundError,
    PolicyDeniedError,
)
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.settings import Settings

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_USAGE = 2

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant to act in.")]
AsOption = Annotated[str, typer.Option("--as", help="Subject id to act as.")]
RolesOption = Annotated[
    str, typer.Option("--roles", help="Comma-separated roles (reader, writer, steward, admin).")
]
RealmOption = Annotated[
    str | None,
    typer.Option(
        "--realm", help="Act for this realm (as its service would); also the realm written or listed."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def out() -> Console:
    """Standard output (rich looks up ``sys.stdout`` at print time, so test runners capture it)."""
    return Console(highlight=False)


def err() -> Console:
    return Console(stderr=True, highlight=False)


def emit_json(document: object, *, to_stderr: bool = False) -> None:
    """Plain, indented JSON (no colours: it is meant for pipes)."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False), err=to_stderr)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback built (or a test injected through ``obj``)."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise RuntimeError("the root callback did not build the settings")
    return settings


def make_subject(tenant: str, subject_id: str, roles: str, realm: str | None) -> Subject:
    """The subject named by ``--tenant --as --roles --realm`` (a bad one exits with code 2)."""
    role_list = tuple(r.strip() for r in roles.split(",") if r.strip())
    try:
        return Subject(id=subject_id, tenant=tenant, roles=role_list, realm=realm or None)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = {"id": "--as", "tenant": "--tenant", "realm": "--realm"}.get(str(first["loc"][0]), "subject")
        reason = str(first["msg"]).removeprefix("Value error, ")
        fail(f"invalid {option}: {reason}", "fix it and try again (see --help)", EXIT_USAGE)


def _hint(error: ArtifactPlaneError) -> str:
    if isinstance(error, InvalidInputError):
        return "fix it and try again (see --help)"
    if isinstance(error, NotFoundError):
        return "check the id or name and the --tenant; `artifact-plane ls` lists what you can see"
    if isinstance(error, PolicyDeniedError):
        where = f" (decision {error.decision_id})" if error.decision_id else ""
        return f"act with a role or realm allowed to {error.action} (--roles, --realm){where}"
    if isinstance(error, ConflictError):
        return "pick another id or version, or write with --mode upsert"
    if isinstance(error, BackendUnavailableError):
        return "start the backend or fix its AP_*_URL setting, then retry"
    if isinstance(error, DeadlineExceededError):
        return "retry with a longer timeout"
    if isinstance(error, ConfigurationError):
        return f"fix {error.setting} and run again"
    return "see the message above"


def fail(message: str, hint: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one red line (what went wrong, what to do next) and exit with ``code``."""
    err().print(f"error: {message} — {hint}", style="bold red", markup=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def plane_errors() -> Iterator[None]:
    """Turn the plane's errors into one red line and an exit code (2 for bad input)."""
    try:
        yield
    except ArtifactPlaneError as exc:
        fail(str(exc), _hint(exc), EXIT_USAGE if isinstance(exc, InvalidInputError) else EXIT_ERROR)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        fail(f"bad setting {where}: {first['msg']}", "fix the AP_* environment variable or .env", EXIT_ERROR)


def run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion, reporting the plane's errors as one line."""
    with plane_errors():
        return asyncio.run(work())
    raise AssertionError("unreachable")  # pragma: no cover - plane_errors exits or re-raises


def with_plane(settings: Settings, work: Callable[[ArtifactPlane], Awaitable[T]]) -> T:
    """Open the configured plane, run ``work`` on it, close it."""

    async def main() -> T:
        async with open_plane(settings) as plane:
            return await work(plane)

    return run(main)
