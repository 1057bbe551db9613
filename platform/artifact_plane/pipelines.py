"""Chaining: a pipeline of intents, each step's outputs feeding later steps' inputs.

A step names its realm, intent, params and inputs. An input is an artifact
ID, an ``artifact://`` name, or ``$step.output`` — the ID that output of an
earlier step returned. An input a step's operator declares but the step does
not give is taken from the latest earlier step that returned an output of the
same name, so ``analyze → interpret`` chains by the name ``analysis`` alone.

Every step is one execution (its invocation records the pipeline id and the
step). The whole pipeline is checked before the first step runs: unknown
intents, bad params, references to unknown steps or outputs raise and nothing
is written. A failing step stops the pipeline; earlier steps stay done.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import ID_PATTERN
from artifact_plane.operators.manifest import OperatorManifest
from artifact_plane.operators.schemas import apply_defaults, check

if TYPE_CHECKING:
    from artifact_plane.executions import RunResult, SubjectExecutions

__all__ = ["PipelineResult", "Step", "run_pipeline"]

STEP_REF = "$"


@dataclass(frozen=True)
class Step:
    """One step: ``name`` defaults to the intent."""

    realm: str
    intent: str
    inputs: Mapping[str, object] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.intent.partition("@")[0]


@dataclass
class PipelineResult:
    """The runs in step order; ``failed_step`` names the step that stopped it."""

    pipeline_id: str
    runs: dict[str, RunResult] = field(default_factory=dict)
    failed_step: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed_step is None

    def output(self, step: str, name: str) -> str:
        value = self.runs[step].outputs[name]
        return value if isinstance(value, str) else value[0]


def _plan(runner: SubjectExecutions, steps: Sequence[Step]) -> list[tuple[Step, OperatorManifest]]:
    """Check every step against its operator and the steps before it."""
    if not steps:
        raise InvalidInputError("steps", "give at least one step")
    planned: list[tuple[Step, OperatorManifest]] = []
    outputs: dict[str, tuple[str, ...]] = {}
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not ID_PATTERN.fullmatch(step.label):
            raise InvalidInputError(
                f"{where}.name", f"{step.label!r} must be ASCII letters, digits, '_' or '-'"
            )
        if step.label in outputs:
            raise InvalidInputError(
                f"{where}.name", f"{step.label!r} names two steps; give each a distinct name"
            )
        manifest = runner.operators.find(step.realm, step.intent)
        check(manifest.input_schema, apply_defaults(manifest.input_schema, step.params), f"{where}.params")
        for input_name, ref in step.inputs.items():
            if isinstance(ref, str) and ref.startswith(STEP_REF):
                source, _, output = ref[1:].partition(".")
                if source not in outputs:
                    raise InvalidInputError(
                        f"{where}.inputs.{input_name}", f"{ref!r}: no earlier step is named {source!r}"
                    )
                if output not in outputs[source]:
                    raise InvalidInputError(
                        f"{where}.inputs.{input_name}",
                        f"{ref!r}: step {source!r} returns {', '.join(outputs[source]) or 'nothing'}",
                    )
        outputs[step.label] = manifest.output_names
        planned.append((step, manifest))
    return planned


def _wire(step: Step, manifest: OperatorManifest, result: PipelineResult) -> dict[str, object]:
    inputs: dict[str, object] = {}
    for name, ref in step.inputs.items():
        if isinstance(ref, str) and ref.startswith(STEP_REF):
            source, _, output = ref[1:].partition(".")
            inputs[name] = result.output(source, output)
        else:
            inputs[name] = ref
    for name in manifest.inputs:
        if name in inputs:
            continue
        for run in reversed(list(result.runs.values())):
            value = run.outputs.get(name)
            if value is not None:
                inputs[name] = value if isinstance(value, str) else value[0]
                break
    return inputs


async def run_pipeline(runner: SubjectExecutions, steps: Sequence[Step]) -> PipelineResult:
    """Run ``steps`` in order as one execution each; stop at the first failed step.

    Raises:
        InvalidInputError / NotFoundError / PolicyDeniedError: as
            :meth:`SubjectExecutions.run_intent` — for any step before it runs
            (checked up front where possible, nothing written).
    """
    planned = _plan(runner, steps)
    result = PipelineResult(pipeline_id=f"pipeline-{uuid.uuid4().hex[:16]}")
    for index, (step, manifest) in enumerate(planned):
        run = await runner.run_intent(
            step.realm,
            step.intent,
            _wire(step, manifest, result),
            step.params,
            context={"pipeline": result.pipeline_id, "step": step.label, "index": index},
        )
        result.runs[step.label] = run
        if not run.ok:
            result.failed_step = step.label
            break
    return result
