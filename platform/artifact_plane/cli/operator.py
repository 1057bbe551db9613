"""``artifact-plane operator list|validate|new``: the code artifacts the plane can run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from artifact_plane.cli._common import EXIT_ERROR, JsonOption, emit_json, err, out, plane_errors, settings_of
from artifact_plane.operators import MANIFEST_NAME, OperatorRegistry
from artifact_plane.operators.scaffold import scaffold
from artifact_plane.operators.validate import ValidationReport, validate_directory, validate_manifest
from artifact_plane.settings import Settings

app = typer.Typer(help="Code artifacts (operators): list, validate, scaffold.", no_args_is_help=True)


@app.command("list")
def list_operators(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every discovered operator version (builtin, realms, AP_OPERATOR_DIRS)."""
    with plane_errors():
        registry = OperatorRegistry.from_settings(settings_of(ctx), strict=False)
    manifests = registry.all()
    if as_json:
        emit_json(
            {
                "operators": [m.model_dump(mode="json") | {"directory": str(m.directory)} for m in manifests],
                "problems": [str(p) for p in registry.problems],
            }
        )
        return
    table = Table(title="operators")
    for column in ("id", "version", "scope", "intent", "category", "inputs", "outputs"):
        table.add_column(column, no_wrap=column in {"id", "version", "intent"})
    for m in manifests:
        table.add_row(
            m.id, m.version, m.scope, m.intent, m.category, ", ".join(m.inputs), ", ".join(m.output_names)
        )
    out().print(table)
    for problem in registry.problems:
        err().print(f"invalid manifest {problem}", style="red", markup=False, soft_wrap=True)


def _print(report: ValidationReport) -> None:
    mark = "[green]ok[/green]" if report.ok else "[bold red]FAILED[/bold red]"
    out().print(f"{mark} {escape(report.ref or report.source)}", soft_wrap=True)
    for check in report.checks:
        sign = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        out().print(f"  {sign} {check.name}: {escape(check.detail)}", soft_wrap=True)


async def _validate_all(settings: Settings, paths: list[Path]) -> list[ValidationReport]:
    if paths:
        return [await validate_directory(p if p.is_dir() else p.parent, settings) for p in paths]
    registry = OperatorRegistry.from_settings(settings, strict=False)
    reports = []
    for problem in registry.problems:
        report = ValidationReport(problem.source)
        report.add("manifest", False, problem.reason)
        reports.append(report)
    for manifest in registry.all():
        reports.append(await validate_manifest(manifest, settings))
    return reports


@app.command("validate")
def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help=f"Operator directories (or their {MANIFEST_NAME}); default: every discovered one."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check manifests, load entrypoints and run each operator once on a sample (exit 1 on any failure)."""
    settings = settings_of(ctx)
    with plane_errors():
        reports = asyncio.run(_validate_all(settings, list(paths or [])))
    if as_json:
        emit_json(
            [
                {"source": r.source, "ref": r.ref, "ok": r.ok, "checks": [c.__dict__ for c in r.checks]}
                for r in reports
            ]
        )
    else:
        for report in reports:
            _print(report)
    failed = [r for r in reports if not r.ok]
    if failed:
        err().print(
            f"error: {len(failed)} of {len(reports)} operators failed validation — "
            "fix what is marked ✗ and rerun",
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_ERROR)


@app.command("new")
def new(
    ctx: typer.Context,
    realm: Annotated[str, typer.Argument(help="Realm the operator serves.")],
    name: Annotated[str, typer.Argument(help="Intent name, e.g. summarise.")],
) -> None:
    """Scaffold realms/REALM/NAME: manifest, handler, sample, test and README."""
    settings = settings_of(ctx)
    with plane_errors():
        written = scaffold(settings.realms_dir, realm, name)
    for path in written:
        out().print(f"created {path}", markup=False, soft_wrap=True)
    directory = settings.realms_dir / realm / name
    out().print(
        f"next: artifact-plane operator validate {directory}  and  pytest {directory}",
        markup=False,
        soft_wrap=True,
    )
