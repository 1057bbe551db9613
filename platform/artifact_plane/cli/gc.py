"""``artifact-plane gc``: expire what ran out, fail abandoned executions, delete payloads nothing needs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from artifact_plane.cli._common import JsonOption, emit_json, err, out, settings_of, with_plane
from artifact_plane.cli._render import human_size
from artifact_plane.plane import ArtifactPlane, GcReport


def gc(
    ctx: typer.Context,
    grace: Annotated[
        int | None,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="Keep payloads younger than this (default: AP_GC_GRACE_SECONDS).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the TTL sweep, fail abandoned executions, then garbage-collect payloads (every tenant)."""

    async def work(plane: ArtifactPlane) -> tuple[int, int, GcReport]:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err(),
            transient=True,
        ) as progress:
            sweep = progress.add_task("expiring artifacts whose TTL ran out", total=None)
            expired = await plane.sweep_ttl()
            progress.update(sweep, description=f"expired {expired} artifacts", total=1, completed=1)
            stuck = progress.add_task("failing executions abandoned by a stopped process", total=None)
            abandoned = len(await plane.sweep_abandoned_executions())
            done = f"failed {abandoned} abandoned executions"
            progress.update(stuck, description=done, total=1, completed=1)
            scan = progress.add_task("scanning payloads", total=None)
            report = await plane.collect_garbage(
                grace=timedelta(seconds=grace) if grace is not None else None,
                progress=lambda scanned: progress.update(scan, description=f"scanned {scanned} payloads"),
            )
            progress.update(scan, total=1, completed=1)
        return expired, abandoned, report

    expired, abandoned, report = with_plane(settings_of(ctx), work)
    if as_json:
        emit_json({"expired": expired, "abandoned_executions": abandoned, **asdict(report)})
        return
    out().print(
        f"expired {expired} artifacts; failed {abandoned} abandoned executions; "
        f"scanned {report.scanned} payloads: deleted {report.deleted} "
        f"({human_size(report.bytes_freed)} freed), kept {report.kept}; "
        f"removed {report.temp_files_removed} partial writes",
        markup=False,
        soft_wrap=True,
    )
