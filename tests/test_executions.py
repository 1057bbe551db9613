"""run_intent: the execution lifecycle on a real plane (SQLite + directory + Rego, and PostgreSQL).

Operators under test are real code artifacts: the realms' own, and small ones
written into a temporary directory by :func:`write_operator`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from artifact_plane.errors import InvalidInputError, NotFoundError, PolicyDeniedError
from artifact_plane.executions import INVOCATION_TYPE, Executions, SubjectExecutions
from artifact_plane.ids import ID_PATTERN
from artifact_plane.models import ArtifactStatus, EdgeKind, ExecutionStatus, NodeKind, Subject
from artifact_plane.operators import OperatorRegistry
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import REPO, open_test_plane

ADA = Subject(id="ada", tenant="acme", roles=("writer",))
DATASET = (REPO / "realms/content/analyze/samples/dataset.json").read_text()


def write_operator(
    root: Path, name: str, *, version: str = "1.0.0", scope: str = "content", body: str
) -> Path:
    """A code artifact ``test.<name>`` serving intent ``<name>`` whose handler is ``body``."""
    directory = root / f"{name}-{version}"
    directory.mkdir(parents=True)
    (directory / "artifact.yaml").write_text(
        textwrap.dedent(
            f"""\
            id: test.{name}
            version: {version}
            scope: {scope}
            category: testing
            description: A test operator.
            entrypoint: handler:run
            inputs:
              dataset: {{artifact_type: dataset, required: false}}
            input_schema:
              type: object
              properties:
                label: {{type: string, default: x}}
            """
        )
    )
    (directory / "handler.py").write_text(textwrap.dedent(body))
    return directory


async def operator_plane(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ArtifactPlane]:
    async for plane in open_test_plane(kind, tmp_path, request=request):
        yield plane


@pytest.fixture(params=["embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in operator_plane(request.param, tmp_path, request):
        yield built


@pytest.fixture
def extra_ops(tmp_path: Path) -> Path:
    root = tmp_path / "ops"
    root.mkdir()
    return root


def runner_for(plane: ArtifactPlane, *dirs: Path, subject: Subject = ADA) -> SubjectExecutions:
    registry = OperatorRegistry.discover([REPO / "realms", *dirs])
    return Executions(plane, registry).for_subject(subject)


async def put_dataset(plane: ArtifactPlane, text: str = DATASET, *, tenant: str = "acme") -> str:
    me = plane.for_subject(Subject(id="loader", tenant=tenant, roles=("writer",), realm="content"))
    return await me.write("artifact://content/datasets/survey.json", text, artifact_type="dataset")


async def artifact_count(plane: ArtifactPlane) -> int:
    admin = plane.for_subject(Subject(id="root", tenant="acme", roles=("admin",)))
    return len((await admin.list_artifacts(limit=1000)).items)


# ----------------------------------------------------------------- success


async def test_run_records_execution_edges_and_outputs(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_for(plane)
    result = await runner.run_intent("content", "analyze", {"dataset": dataset}, {"group_by": "region"})
    assert result.ok, result.execution.error
    execution = await runner.me.get_execution(result.execution_id)
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert (execution.realm, execution.intent, execution.operator) == (
        "content",
        "analyze",
        "content.analyze@1.0.0",
    )
    assert execution.finished_at is not None
    assert execution.finished_at >= execution.started_at
    analysis_id = result.outputs["analysis"]
    assert execution.outputs == (analysis_id,)
    assert dataset in execution.inputs
    record = await runner.me.get_meta(analysis_id)
    assert (record.execution_id, record.realm, record.uri) == (
        result.execution_id,
        "content",
        "artifact://content/analysis/dataset.json",
    )
    assert record.regenerable
    assert record.metadata["operator"] == "content.analyze@1.0.0"
    assert record.created_by == "ada"  # the caller, acting for the realm
    graph = await runner.me.lineage(dataset, direction="downstream", depth=1)
    kinds = {(e.kind, e.source_id, e.target_id) for e in graph.edges}
    assert (EdgeKind.CONSUMED_BY, dataset, result.execution_id) in kinds
    assert (EdgeKind.PRODUCED, result.execution_id, analysis_id) in kinds
    node = next(n for n in graph.nodes if n.id == result.execution_id)
    assert (node.kind, node.intent) == (NodeKind.EXECUTION, "analyze")


async def test_execution_state_holds_references_only(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_for(plane)
    result = await runner.run_intent("content", "analyze", {"dataset": dataset}, {"name": "refs-only"})
    execution = await runner.me.get_execution(result.execution_id)
    for ref in (*execution.inputs, *execution.outputs):
        assert ID_PATTERN.fullmatch(ref)
        assert len(ref) <= 128
    stored = execution.model_dump_json()
    output = await runner.me.get_artifact(result.outputs["analysis"], include_payload=True)
    for secret in ("export keeps failing", '"rows"', "refs-only", '"mean"'):
        assert secret not in stored
    assert b'"mean"' in (output.payload or b"")
    # The row itself, as the database holds it.
    if plane.settings.resolved_registry_url().startswith("sqlite"):
        engine = sa.create_engine(plane.settings.resolved_registry_url())
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT * FROM executions WHERE execution_id = :e"), {"e": result.execution_id}
            )
            text = json.dumps([str(v) for v in row.one()])
        engine.dispose()
        assert "export keeps failing" not in text
        assert "refs-only" not in text
    # Params live in the invocation artifact the execution references.
    records = [await runner.me.get_meta(i) for i in execution.inputs]
    invocation = next(r for r in records if r.artifact_type == INVOCATION_TYPE)
    document = json.loads((await runner.me.get_artifact(invocation.artifact_id, include_payload=True)).text())
    assert document["params"]["name"] == "refs-only"
    assert document["inputs"]["dataset"] == {
        "id": dataset,
        "uri": "artifact://content/datasets/survey.json",
        "version": "1.0.0",
    }


async def test_inputs_by_name_resolve_to_the_newest_ready_version(plane: ArtifactPlane) -> None:
    first = await put_dataset(plane)
    second = await put_dataset(plane, DATASET.replace('"score": 9', '"score": 10'))
    runner = runner_for(plane)
    result = await runner.run_intent(
        "content", "analyze", {"dataset": "artifact://content/datasets/survey.json"}
    )
    execution = await runner.me.get_execution(result.execution_id)
    assert second in execution.inputs
    assert first not in execution.inputs


# ------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    ("intent", "inputs", "params", "field"),
    [
        ("analyze", {"dataset": "DATASET"}, {"name": "Not Valid!"}, "params.name"),
        ("analyze", {"dataset": "DATASET"}, {"surprise": 1}, "params"),
        ("analyze", {}, {}, "inputs.dataset"),
        ("analyze", {"dataset": "DATASET", "extra": "DATASET"}, {}, "inputs.extra"),
        ("visualize", {"analysis": "DATASET"}, {}, "inputs.analysis"),
    ],
)
async def test_bad_requests_say_what_is_wrong_and_write_nothing(
    plane: ArtifactPlane, intent: str, inputs: dict[str, str], params: dict[str, Any], field: str
) -> None:
    dataset = await put_dataset(plane)
    before = await artifact_count(plane)
    runner = runner_for(plane)
    given = {name: dataset if ref == "DATASET" else ref for name, ref in inputs.items()}
    with pytest.raises(InvalidInputError) as caught:
        await runner.run_intent("content", intent, given, params)
    assert caught.value.field == field
    assert await artifact_count(plane) == before


async def test_unknown_intent_and_missing_input_are_not_found(plane: ArtifactPlane) -> None:
    runner = runner_for(plane)
    with pytest.raises(NotFoundError, match="this realm offers: analyze"):
        await runner.run_intent("content", "summon")
    with pytest.raises(NotFoundError):
        await runner.run_intent("content", "analyze", {"dataset": "nope"})
    with pytest.raises(NotFoundError, match=r"known versions: 1\.0\.0"):
        await runner.run_intent("content", "analyze@9.9.9", {"dataset": "nope"})


async def test_another_tenants_input_is_not_found(plane: ArtifactPlane) -> None:
    theirs = await put_dataset(plane, tenant="globex")
    before = await artifact_count(plane)
    with pytest.raises(NotFoundError):
        await runner_for(plane).run_intent("content", "analyze", {"dataset": theirs})
    assert await artifact_count(plane) == before


async def test_policy_decides_who_runs_and_what_a_realm_reads(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    insights_service = Subject(id="svc", tenant="acme", roles=("writer",), realm="insights")
    with pytest.raises(PolicyDeniedError, match="realm insights may not write into realm content"):
        await runner_for(plane, subject=insights_service).run_intent(
            "content", "analyze", {"dataset": dataset}
        )
    reader = Subject(id="rita", tenant="acme", roles=("reader",))
    with pytest.raises(PolicyDeniedError, match="may not create"):
        await runner_for(plane, subject=reader).run_intent("content", "analyze", {"dataset": dataset})
    # Journey may not read content's datasets: the realm manifest says so.
    runner = runner_for(plane)
    analysis = (await runner.run_intent("content", "analyze", {"dataset": dataset})).outputs["analysis"]
    before = await artifact_count(plane)
    with pytest.raises(PolicyDeniedError, match="realm_read: realm outcomes may not read"):
        await runner.run_intent("outcomes", "create_roadmap", {"interpretation": analysis})
    assert await artifact_count(plane) == before


# --------------------------------------------------------------- failures


async def test_a_failing_handler_fails_the_execution_and_its_pending_outputs(
    plane: ArtifactPlane, extra_ops: Path
) -> None:
    write_operator(
        extra_ops,
        "explode",
        body="""
        async def run(ctx):
            done = await ctx.write("out/done.txt", "finished part", artifact_type="note")
            pending = await ctx.write("out/half.txt", "half", artifact_type="note", status="pending")
            ctx.logger.info("wrote %s and %s", done, pending)
            raise RuntimeError("disk on fire")
        """,
    )
    runner = runner_for(plane, extra_ops)
    result = await runner.run_intent("content", "explode")
    assert not result.ok
    assert result.outputs == {}
    execution = await runner.me.get_execution(result.execution_id)
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "RuntimeError: disk on fire"
    statuses = {
        (await runner.me.get_meta(i)).uri: (await runner.me.get_meta(i)).status for i in execution.outputs
    }
    assert statuses == {
        "artifact://content/out/done.txt": ArtifactStatus.READY,
        "artifact://content/out/half.txt": ArtifactStatus.FAILED,
    }


async def test_returning_data_or_leaving_outputs_pending_fails(plane: ArtifactPlane, extra_ops: Path) -> None:
    write_operator(
        extra_ops,
        "leaky",
        body="""
        async def run(ctx):
            await ctx.write("leak.txt", "x", artifact_type="note")
            return {"report": {"rows": [1, 2, 3]}}
        """,
    )
    write_operator(
        extra_ops,
        "forgetful",
        body="""
        async def run(ctx):
            art = await ctx.write("forgot.txt", "x", artifact_type="note", status="pending")
            return {"note": art}
        """,
    )
    write_operator(
        extra_ops,
        "tidy",
        body="""
        async def run(ctx):
            art = await ctx.write("tidy.txt", "x", artifact_type="note", status="pending")
            await ctx.complete(art)
            return {"note": art}
        """,
    )
    runner = runner_for(plane, extra_ops)
    leaky = await runner.run_intent("content", "leaky")
    assert not leaky.ok
    assert "not the ID of an artifact this execution wrote" in (leaky.execution.error or "")
    forgetful = await runner.run_intent("content", "forgetful")
    assert not forgetful.ok
    assert "still pending" in (forgetful.execution.error or "")
    assert (await runner.me.get_meta(forgetful.execution.outputs[0])).status is ArtifactStatus.FAILED
    tidy = await runner.run_intent("content", "tidy")
    assert tidy.ok
    assert (await runner.me.get_meta(tidy.outputs["note"])).status is ArtifactStatus.READY


async def test_a_handler_that_does_not_import_is_refused_before_writing(
    plane: ArtifactPlane, extra_ops: Path
) -> None:
    write_operator(
        extra_ops, "broken", body="import not_a_module_anywhere\n\nasync def run(ctx):\n    return {}\n"
    )
    before = await artifact_count(plane)
    with pytest.raises(InvalidInputError, match="importing 'handler' failed: ModuleNotFoundError"):
        await runner_for(plane, extra_ops).run_intent("content", "broken")
    assert await artifact_count(plane) == before
