"""Execution lifecycle: run an intent, link lineage, keep references only.

``run_intent(realm, intent, inputs, params)``:

1. resolve the operator serving ``intent`` in ``realm`` (newest, or ``@version``);
2. validate ``params`` against its input schema and the named ``inputs``
   (IDs or ``artifact://`` names) against its declared inputs — readable by
   the realm, ready, of the declared type;
3. ask policy whether the caller may run it (``create`` of an execution in
   that realm), load the handler — all before anything is written;
4. store the invocation (operator, params, inputs) as a JSON artifact and the
   execution record (``running``) whose inputs are that artifact and the
   input artifacts: **IDs only**, never payloads;
5. run the handler as the realm (the caller's id and roles, the realm's
   permissions) with an :class:`OperatorContext`; outputs it writes carry the
   execution id and inputs, so ``PRODUCED`` / ``CONSUMED_BY`` edges commit
   with each record;
6. on success the execution is ``succeeded`` with its output IDs; on any
   failure it is ``failed`` with the error and every output still ``pending``
   is marked ``failed``.

Handler failures are results (``RunResult.ok`` is False), not exceptions:
the execution exists and says why. Bad requests raise before any write.
This module uses the plane's ports and the scoped API, never adapters.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from artifact_plane.errors import InvalidInputError
from artifact_plane.execution_checks import check_result, resolve_inputs
from artifact_plane.ids import validate_id
from artifact_plane.models import (
    ArtifactStatus,
    EdgeKind,
    Execution,
    ExecutionStatus,
    LineageEdge,
    Subject,
)
from artifact_plane.operators.context import JSON, OperatorContext
from artifact_plane.operators.registry import OperatorRegistry
from artifact_plane.operators.schemas import apply_defaults, check

if TYPE_CHECKING:
    from artifact_plane.pipelines import PipelineResult, Step
    from artifact_plane.plane import ArtifactPlane
    from artifact_plane.staleness import StaleCause

__all__ = ["INVOCATION_TYPE", "Executions", "RunResult", "SubjectExecutions"]

INVOCATION_TYPE = "invocation"
MAX_ERROR = 2000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What one run did: the execution record and the output IDs by name."""

    execution: Execution
    outputs: dict[str, str | list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.execution.status is ExecutionStatus.SUCCEEDED

    @property
    def execution_id(self) -> str:
        return self.execution.execution_id


class Executions:
    """Runs intents on a plane with the operators of a registry."""

    def __init__(self, plane: ArtifactPlane, operators: OperatorRegistry) -> None:
        self.plane = plane
        self.operators = operators

    @classmethod
    def from_plane(cls, plane: ArtifactPlane) -> Executions:
        """Discover the operators named by the plane's settings (builtin, realms, AP_OPERATOR_DIRS)."""
        return cls(plane, OperatorRegistry.from_settings(plane.settings))

    def for_subject(self, subject: Subject) -> SubjectExecutions:
        return SubjectExecutions(self, subject)


def realm_subject(caller: Subject, realm: str) -> Subject:
    """The caller acting for ``realm``: same id and roles, so no one gains rights by running an intent."""
    return caller.model_copy(update={"realm": validate_id(realm, "realm")})


class SubjectExecutions:
    """Execution operations for one caller (run, chain, staleness, regenerate)."""

    def __init__(self, executions: Executions, subject: Subject) -> None:
        self.executions = executions
        self.plane = executions.plane
        self.operators = executions.operators
        self.subject = subject
        self.me = self.plane.for_subject(subject)

    # ------------------------------------------------------------------- run

    async def run_intent(
        self,
        realm: str,
        intent: str,
        inputs: Mapping[str, object] | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Run the operator serving ``intent`` in ``realm``; return the execution and output IDs.

        ``inputs`` maps the operator's input names to artifact IDs,
        ``artifact_ref`` dicts or ``artifact://`` names (newest ready version).
        ``context`` is recorded with the invocation (a pipeline's id and step).

        Raises:
            NotFoundError: no such realm intent, or an input does not exist.
            InvalidInputError: params fail the input schema, an input is
                unknown, missing, not ready or of the wrong type, or the
                handler cannot be loaded. Nothing is written.
            PolicyDeniedError: the caller may not run intents of ``realm``, or
                the realm may not read an input. Nothing is written.
        """
        manifest = self.operators.find(validate_id(realm, "realm"), intent)
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInputError("params", "give a JSON object of parameters")
        values = apply_defaults(manifest.input_schema, params or {})
        check(manifest.input_schema, values, "params")
        scoped = self.plane.for_subject(realm_subject(self.subject, realm))
        records = await resolve_inputs(scoped, manifest, inputs or {})
        execution_id = f"{realm}-{manifest.intent}-{uuid.uuid4().hex[:16]}".replace("_", "-")
        await self.plane.authz.require(
            self.subject,
            "create",
            [
                {
                    "tenant_id": self.subject.tenant,
                    "realm": realm,
                    "artifact_type": "execution",
                    "execution_id": execution_id,
                    "intent_type": manifest.intent,
                    "operator": manifest.ref,
                }
            ],
        )
        handler = self.operators.handler(manifest)
        invocation = await scoped.create_artifact(
            {
                "realm": realm,
                "intent": manifest.intent,
                "operator": manifest.ref,
                "params": values,
                "inputs": {
                    name: {"id": r.artifact_id, "uri": r.uri, "version": r.version}
                    for name, r in records.items()
                },
                "context": dict(context or {}),
            },
            artifact_type=INVOCATION_TYPE,
            content_type=JSON,
            realm=realm,
            tags=("invocation",),
        )
        consumed = tuple(dict.fromkeys([invocation, *(r.artifact_id for r in records.values())]))
        started = Execution(
            execution_id=execution_id,
            tenant_id=self.subject.tenant,
            realm=realm,
            intent=manifest.intent,
            operator=manifest.ref,
            status=ExecutionStatus.RUNNING,
            inputs=consumed,
            started_at=self.plane.clock(),
        )
        await self.plane.registry.put_execution(started)
        # Consumption is recorded even if the handler writes nothing or fails.
        await self.plane.lineage.add_edges(
            [
                LineageEdge(
                    tenant_id=self.subject.tenant,
                    kind=EdgeKind.CONSUMED_BY,
                    source_id=art_id,
                    target_id=execution_id,
                    created_at=started.started_at,
                )
                for art_id in consumed
            ]
        )
        ctx = OperatorContext(
            plane=scoped,
            execution_id=execution_id,
            realm=realm,
            operator=manifest,
            params=values,
            inputs=records,
            logger=logging.LoggerAdapter(
                logging.getLogger(f"artifact_plane.operators.{manifest.id}"),
                {"execution_id": execution_id, "realm": realm},
            ),
            consumed=consumed,
        )
        return await self._run(ctx, handler, started)

    async def _run(self, ctx: OperatorContext, handler: Any, started: Execution) -> RunResult:
        limit = ctx.operator.timeout_seconds
        try:
            returned: object = None
            with anyio.move_on_after(limit) as scope:
                returned = await handler(ctx)
            if scope.cancelled_caught:
                error = f"timed out after {limit:g}s (timeout_seconds of {ctx.operator.ref})"
                return await self._finish(ctx, started, error=error)
            outputs = check_result(ctx, returned)
        except Exception as exc:
            return await self._finish(ctx, started, error=f"{type(exc).__name__}: {exc}")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._finish(ctx, started, error="cancelled before the handler finished")
            raise
        return await self._finish(ctx, started, outputs=outputs)

    async def _finish(
        self,
        ctx: OperatorContext,
        started: Execution,
        *,
        outputs: dict[str, str | list[str]] | None = None,
        error: str | None = None,
    ) -> RunResult:
        tenant = self.subject.tenant
        produced = {
            r.artifact_id: r for r in await self.plane.registry.find_by_execution(tenant, ctx.execution_id)
        }
        produced.update(
            await self.plane.registry.get_many(tenant, [i for i in ctx.produced if i not in produced])
        )
        pending = [i for i, r in produced.items() if r.status is ArtifactStatus.PENDING]
        if error is None and pending:
            error = f"the handler returned while outputs were still pending: {', '.join(pending)}"
        if error is not None:
            for art_id in pending:
                await ctx.plane.set_status(art_id, ArtifactStatus.FAILED)
            log.warning("execution %s failed: %s", ctx.execution_id, error)
        order = list(dict.fromkeys([*ctx.produced, *sorted(produced)]))
        finished = started.model_copy(
            update={
                "status": ExecutionStatus.FAILED if error is not None else ExecutionStatus.SUCCEEDED,
                "outputs": tuple(order),
                "error": error[:MAX_ERROR] if error is not None else None,
                "finished_at": self.plane.clock(),
            }
        )
        await self.plane.registry.put_execution(finished)
        return RunResult(finished, outputs if error is None and outputs is not None else {})

    # ---------------------------------------------- chaining and staleness

    async def run_pipeline(self, steps: Sequence[Step]) -> PipelineResult:
        """Run steps in order, each step's outputs feeding later steps' inputs (see :mod:`pipelines`)."""
        from artifact_plane.pipelines import run_pipeline

        return await run_pipeline(self, steps)

    async def stale_causes(self, artifact_id: str) -> list[StaleCause]:
        """Why ``artifact_id`` is stale (empty when it is fresh); see :mod:`staleness`."""
        from artifact_plane.staleness import stale_causes

        return await stale_causes(self, artifact_id)

    async def stale(self, artifact_id: str) -> bool:
        return bool(await self.stale_causes(artifact_id))

    async def regenerate(self, artifact_id: str, *, upstream: bool = False) -> RunResult:
        """Re-run the execution that produced ``artifact_id`` with the current inputs and operator.

        ``upstream`` regenerates stale inputs first (see :func:`staleness.regenerate`).
        """
        from artifact_plane.staleness import regenerate

        return await regenerate(self, artifact_id, upstream=upstream)
