"""``artifact-plane run REALM INTENT``: run a realm intent, print the execution and its output IDs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from artifact_plane.cli._common import (
    EXIT_ERROR,
    EXIT_USAGE,
    AsOption,
    JsonOption,
    RealmOption,
    RolesOption,
    TenantOption,
    emit_json,
    err,
    fail,
    make_subject,
    out,
    settings_of,
    with_plane,
)
from artifact_plane.executions import Executions, RunResult
from artifact_plane.plane import ArtifactPlane


def pairs(values: list[str] | None, option: str, *, parse_json: bool) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict; values parsed as JSON when they are JSON (``3``, ``true``, ``[1]``)."""
    result: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} {item!r} is not name=value", f"write it as {option} name=value", EXIT_USAGE)
        if parse_json:
            try:
                result[key] = json.loads(value)
            except json.JSONDecodeError:
                result[key] = value
        else:
            result[key] = value
    return result


def execution_table(result: RunResult) -> Table:
    execution = result.execution
    table = Table(show_header=False, title=f"execution {execution.execution_id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("status", execution.status.value)
    table.add_row("realm / intent", f"{execution.realm} / {execution.intent}")
    table.add_row("operator", execution.operator or "")
    table.add_row("inputs", ", ".join(execution.inputs))
    for name, value in result.outputs.items():
        table.add_row(f"output {name}", value if isinstance(value, str) else ", ".join(value))
    if execution.error:
        table.add_row("error", execution.error)
    return table


def report(result: RunResult, as_json: bool) -> None:
    """Print the run; exit 1 when the execution failed."""
    if as_json:
        emit_json({"execution": result.execution.model_dump(mode="json"), "outputs": result.outputs})
    else:
        out().print(execution_table(result))
    if not result.ok:
        err().print(
            f"error: execution {result.execution_id} failed: {result.execution.error} — "
            "fix the input or the operator, then run again (its pending outputs are marked failed)",
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_ERROR)


def run(
    ctx: typer.Context,
    realm_name: Annotated[str, typer.Argument(metavar="REALM", help="Realm whose intent to run.")],
    intent: Annotated[str, typer.Argument(help="Intent (or operator id), optionally @version.")],
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="name=ID or name=artifact://realm/path (repeatable)."),
    ] = None,
    params: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value, JSON when it parses (repeatable).")
    ] = None,
    params_json: Annotated[
        str | None, typer.Option("--params", help="All params as one JSON object.")
    ] = None,
    as_json: JsonOption = False,
    tenant: TenantOption = "default",
    subject_id: AsOption = "cli",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
) -> None:
    """Run INTENT in REALM with named inputs and params; print the execution and its output IDs."""
    subject = make_subject(tenant, subject_id, roles, realm)
    values: dict[str, Any] = {}
    if params_json is not None:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            fail(
                f"--params is not JSON: {exc}",
                'give a JSON object, e.g. --params \'{"name": "q3"}\'',
                EXIT_USAGE,
            )
        if not isinstance(loaded, dict):
            fail(
                "--params must be a JSON object",
                'give a JSON object, e.g. --params \'{"name": "q3"}\'',
                EXIT_USAGE,
            )
        values.update(loaded)
    values.update(pairs(params, "--param", parse_json=True))
    named = pairs(inputs, "--input", parse_json=False)

    async def work(plane: ArtifactPlane) -> RunResult:
        runner = Executions.from_plane(plane).for_subject(subject)
        return await runner.run_intent(realm_name, intent, named, values)

    report(with_plane(settings_of(ctx), work), as_json)
