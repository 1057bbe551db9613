"""``artifact-plane get ID``: metadata as a table or JSON, or the payload streamed to a file."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import anyio
import typer

from artifact_plane.cli._common import (
    AsOption,
    JsonOption,
    RealmOption,
    RolesOption,
    TenantOption,
    emit_json,
    err,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.cli._render import record_table
from artifact_plane.errors import InvalidInputError
from artifact_plane.models import ArtifactRecord
from artifact_plane.plane import ArtifactPlane


async def _to_file(chunks: AsyncIterator[bytes], target: Path) -> None:
    # Write beside the target and rename: an interrupted download never leaves a half file under its name.
    partial = target.with_name(f".{target.name}.part")
    try:
        handle = await anyio.open_file(partial, "wb")
    except OSError as exc:
        raise InvalidInputError("--output", f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        async with handle:
            async for chunk in chunks:
                await handle.write(chunk)
        await anyio.Path(partial).replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


async def _to_stdout(chunks: AsyncIterator[bytes]) -> None:
    stream = anyio.wrap_file(sys.stdout.buffer)
    async for chunk in chunks:
        await stream.write(chunk)
    await stream.flush()


def get(
    ctx: typer.Context,
    artifact_id: Annotated[str, typer.Argument(metavar="ID", help="Artifact ID.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE|-", help="Write the payload here (- for stdout)."),
    ] = None,
    meta: Annotated[bool, typer.Option("--meta", help="With --output: print the metadata too.")] = False,
    as_json: JsonOption = False,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Print an artifact's metadata, or stream its payload with --output."""
    subject = make_subject(tenant, subject_id, roles, realm)

    async def work(plane: ArtifactPlane) -> ArtifactRecord:
        me = plane.for_subject(subject)
        if output is None:
            return await me.get_meta(artifact_id)
        export = await me.export_payload(artifact_id)
        record, chunks = export.record, export.open()
        if output == "-":
            await _to_stdout(chunks)
        else:
            await _to_file(chunks, Path(output))
        return record

    record = with_plane(settings_of(ctx), work)
    if output is not None and not meta:
        return
    # Keep stdout pure payload when the payload went there.
    to_stderr = output == "-"
    if as_json:
        emit_json(record.model_dump(mode="json", exclude={"payload_key", "version_key"}), to_stderr=to_stderr)
    else:
        (err() if to_stderr else out()).print(record_table(record))
