"""``artifact-plane put FILE|- --type T``: stream a file into the plane, print its artifact ID."""

from __future__ import annotations

import enum
import mimetypes
import sys
from pathlib import Path
from typing import IO, Annotated

import typer

from artifact_plane.cli._common import (
    EXIT_USAGE,
    AsOption,
    RealmOption,
    RolesOption,
    TenantOption,
    fail,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.plane import ArtifactPlane


class Mode(enum.StrEnum):
    UPSERT = "upsert"
    FAIL_IF_EXISTS = "failIfExists"


def _open(source: str) -> IO[bytes]:
    if source == "-":
        return sys.stdin.buffer
    try:
        return Path(source).open("rb")
    except OSError as exc:
        fail(
            f"cannot read {source}: {exc.strerror or exc}", "give a readable file, or - for stdin", EXIT_USAGE
        )


def put(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="File to store, or - for stdin.")],
    artifact_type: Annotated[str, typer.Option("--type", help="Artifact type, e.g. report.")],
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="Media type (default: guessed from the file name).")
    ] = None,
    uri: Annotated[
        str | None, typer.Option("--uri", help="Write a new version of this name: artifact://realm/path.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Semantic version of a named write.")
    ] = None,
    mode: Annotated[
        Mode, typer.Option("--mode", help="Named writes: add a version, or refuse a taken name.")
    ] = (Mode.UPSERT),
    tags: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Store FILE (streamed, never read whole) and print its artifact ID."""
    subject = make_subject(tenant, subject_id, roles, realm)
    if uri is None and (version is not None or mode is not Mode.UPSERT):
        fail("--version and --mode apply to named writes", "give --uri artifact://realm/path", EXIT_USAGE)
    if content_type is None and source != "-":
        content_type = mimetypes.guess_type(source)[0]
    handle = _open(source)

    async def work(plane: ArtifactPlane) -> str:
        me = plane.for_subject(subject)
        if uri is None:
            return await me.create_artifact(
                handle, artifact_type=artifact_type, content_type=content_type, tags=tags or ()
            )
        return await me.write(
            uri,
            handle,
            mode=mode.value,
            version=version,
            artifact_type=artifact_type,
            content_type=content_type,
            tags=tags or (),
        )

    try:
        artifact_id = with_plane(settings_of(ctx), work)
    finally:
        if source != "-":
            handle.close()
    out().print(artifact_id, markup=False)
