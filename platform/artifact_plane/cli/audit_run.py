"""``artifact-plane audit run``: which stored artifacts would the policy in force now deny?"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from artifact_plane.audit import OWNING_REALM, AuditCheck, AuditReport, audit_policies, checks_for
from artifact_plane.cli._common import (
    EXIT_USAGE,
    JsonOption,
    emit_json,
    err,
    fail,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.ids import validate_id
from artifact_plane.models import ArtifactFilter
from artifact_plane.plane import ArtifactPlane

EXIT_VIOLATIONS = 3  # distinct from errors (1) and usage (2), for scripts gating on compliance


def _checks(actions: list[str] | None, roles: str | None) -> list[AuditCheck]:
    if roles is None:
        return checks_for(actions)
    role_list = tuple(r.strip() for r in roles.split(",") if r.strip())
    if not role_list:
        fail("--roles names no role", "give e.g. --roles reader", EXIT_USAGE)
    return checks_for(actions, role_list)


def run(
    ctx: typer.Context,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="Audit this tenant (repeatable; default: all).")
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option("--action", help="Action to re-check (repeatable; default: read and create)."),
    ] = None,
    roles: Annotated[
        str | None,
        typer.Option(
            "--roles",
            help="Roles of the audit subject (default: reader to read, writer to write, steward to delete).",
        ),
    ] = None,
    realm: Annotated[
        str,
        typer.Option(
            "--as-realm",
            help="Act for this realm; 'owner' (default): each artifact's own realm; 'none': no realm.",
        ),
    ] = OWNING_REALM,
    held_by: Annotated[
        str | None, typer.Option("--realm", help="Audit only the artifacts this realm holds (default: all).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Artifacts per policy batch.")] = 500,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes deciding in parallel, in-process Rego only (default: AP_POLICY_WORKERS).",
        ),
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Violations listed in the table output.")] = 20,
    fail_on_violations: Annotated[
        bool, typer.Option("--fail-on-violations", help=f"Exit {EXIT_VIOLATIONS} when anything is denied.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-evaluate every stored artifact against the policy in force, grouped by rule and realm."""
    checks = _checks(action, roles)
    acting_realm = None if realm == "none" else realm

    async def work(plane: ArtifactPlane) -> AuditReport:
        within = ArtifactFilter(realm=validate_id(held_by, "--realm")) if held_by is not None else None
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err(),
            transient=True,
        ) as progress:
            task = progress.add_task("auditing stored artifacts", total=None)
            return await audit_policies(
                plane,
                tenants=tenant or None,
                checks=checks,
                realm=acting_realm,
                within=within,
                batch=batch_size,
                progress=lambda n: progress.update(task, description=f"audited {n} artifacts"),
            )

    settings = settings_of(ctx)
    if workers is not None:
        settings = settings.model_copy(update={"policy_workers": workers})
    report = with_plane(settings, work)
    if as_json:
        emit_json(report.to_json())
    else:
        _print(report, show)
    if fail_on_violations and report.violations:
        raise typer.Exit(EXIT_VIOLATIONS)


def _print(report: AuditReport, show: int) -> None:
    console = out()
    asked = ", ".join(f"{c.action} as {'/'.join(c.roles)}" for c in report.checks)
    console.print(
        f"policy revision {report.revision[:12]} ({report.engine}); {report.scanned} artifacts in "
        f"{len(report.tenants)} tenant(s), {report.decisions} decisions ({asked}); "
        f"{report.denied_artifacts} artifacts would now be denied",
        markup=False,
        soft_wrap=True,
    )
    if not report.violations:
        return
    groups = Table(title="Would now be denied, by rule and realm")
    for column in ("rule", "realm", "action", "artifacts"):
        groups.add_column(column, justify="right" if column == "artifacts" else "left")
    for rule, realm, action, count in report.groups():
        groups.add_row(rule, realm, action, str(count))
    console.print(groups)
    if show == 0:
        return
    listed = Table(
        title=f"Violations (first {min(show, len(report.violations))} of {len(report.violations)})"
    )
    for column in ("tenant", "artifact", "realm", "type", "uri", "action", "reasons"):
        listed.add_column(column, overflow="fold")
    for v in report.violations[:show]:
        listed.add_row(
            v.tenant, v.artifact_id, v.realm, v.artifact_type, v.uri or "", v.action, "; ".join(v.reasons)
        )
    console.print(listed)
