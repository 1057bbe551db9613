"""``artifact-plane audit verify``: check the decision log's hash chain; seal nothing."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from artifact_plane.audit import chained_log
from artifact_plane.cli._common import (
    EXIT_ERROR,
    EXIT_USAGE,
    JsonOption,
    emit_json,
    err,
    fail,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.decisions import ChainHead, ChainReport, parse_head

BROKEN_HINT = (
    "the decision log was altered after it was sealed; compare it with a backup "
    "and keep the printed heads somewhere the database's users cannot write"
)


def verify(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Verify this tenant only (default: every tenant).")
    ] = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="SEQ:HASH",
            help="A head printed by an earlier verify: the chain must still reach it (needs --tenant).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every link of the decision chain; exit 1 naming the first broken entry."""
    expected: ChainHead | None = None
    if expect_head is not None:
        if tenant is None:
            fail("--expect-head names one tenant's head", "give --tenant too", EXIT_USAGE)
        try:
            expected = parse_head(expect_head)
        except ValueError as exc:
            fail(f"invalid --expect-head: {exc}", "copy the head exactly as verify printed it", EXIT_USAGE)

    async def work(plane: ArtifactPlane) -> list[ChainReport]:
        log = chained_log(plane)
        tenants = [tenant] if tenant else await log.tenants()
        reports: list[ChainReport] = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err(),
            transient=True,
        ) as progress:
            for name in tenants:
                head = await log.head(name)
                task = progress.add_task(f"tenant {name}", total=head.seq if head else 0)
                report = await log.verify(
                    name, expect_head=expected, progress=partial(_advance, progress, task)
                )
                reports.append(report)
        return reports

    reports = with_plane(settings_of(ctx), work)
    broken = [r for r in reports if not r.ok]
    if as_json:
        emit_json({"ok": not broken, "tenants": [_as_json(r) for r in reports]})
        if broken:
            raise typer.Exit(EXIT_ERROR)
        return
    console = out()
    if not reports:
        console.print("the decision log is empty: nothing to verify", markup=False)
    for report in reports:
        if report.broken is not None:
            # The walk stopped at the break: what it reached is no head to record.
            line = f"BROKEN at seq {report.broken.seq}; {report.checked} entries check out before it"
        else:
            head = str(report.head) if report.head else "(nothing sealed yet)"
            line = f"ok; {report.checked} entries checked, {report.unsealed} not sealed yet; head {head}"
        console.print(f"tenant {report.tenant}: {line}", markup=False, soft_wrap=True)
    if broken:
        for report in broken:
            assert report.broken is not None
            err().print(
                f"error: tenant {report.tenant}: chain broken at seq {report.broken.seq} "
                f"({report.broken.kind}): {report.broken.detail}",
                style="bold red",
                markup=False,
                soft_wrap=True,
            )
        fail(f"the decision chain of {len(broken)} tenant(s) is broken", BROKEN_HINT)


def _advance(progress: Progress, task: TaskID, checked: int) -> None:
    progress.update(task, completed=checked)


def _as_json(report: ChainReport) -> dict[str, Any]:
    broken = report.broken
    return {
        "tenant": report.tenant,
        "ok": report.ok,
        "checked": report.checked,
        "unsealed": report.unsealed,
        "head": str(report.head) if report.head else None,
        "broken": (
            {
                "kind": broken.kind,
                "seq": broken.seq,
                "decision_id": broken.decision_id,
                "detail": broken.detail,
            }
            if broken
            else None
        ),
    }
