"""Policy decisions/s: ``RegoPolicyEngine`` beside direct ``regopy`` calls on the same policy, same run.

The baseline is the fastest documented regopy path, with nothing of ours
around it: the same ``policies/`` and realm data built once into a bundle,
then per request ``set_input(Input(document))`` and
``query_bundle_entrypoint`` (and reading the answer's JSON). The engine adds
building the input document from pydantic models, walking the answer's
nodes, validating it, the worker-thread hop and fail-closed handling; it
also caches decisions by the resource fields the policies declare.

So two workloads: *distinct* requests (every request names another
artifact URI: no cache hit, the engine's full cost) and *repeated* requests
(the same subject, action and declared fields again: what a page of one
realm's artifacts looks like to the cache). The baseline evaluates every
request either way. Engine and baseline take turns on slices of the work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import REPO, Stats
from bench.report import Section, rate

ENTRYPOINT = "artifact_plane/authz/decision"
TENANT = "acme"


def _requests(count: int, *, distinct: bool, salt: str) -> list[Any]:
    from artifact_plane.models import PolicyInput, Subject

    reader = Subject(id="bench", tenant=TENANT, roles=("reader",), realm="journey")
    requests = []
    for n in range(count):
        # Journey may read insights' interpretations: an allow that walks the realm rules.
        uri = f"artifact://insights/reports/{salt}-{n if distinct else 0}.json"
        resource = {"tenant_id": TENANT, "realm": "insights", "artifact_type": "interpretation", "uri": uri}
        requests.append(PolicyInput(subject=reader, action="read", resource=resource))
    return requests


class DirectRegopy:
    """The baseline: regopy's documented bundle API, nothing else."""

    def __init__(self, data: dict[str, Any]) -> None:
        from regopy import Interpreter

        builder = Interpreter()
        for path in sorted((REPO / "policies").glob("*.rego")):
            if not path.name.endswith("_test.rego"):
                builder.add_module(path.name, path.read_text())
        builder.add_data_json(json.dumps(data))
        self.bundle = builder.build(None, [ENTRYPOINT])
        self.runner = Interpreter()

    def decide(self, document: dict[str, Any]) -> bool:
        from regopy import Input

        self.runner.set_input(Input(document))
        output = self.runner.query_bundle_entrypoint(self.bundle, ENTRYPOINT)
        if not output.ok():
            raise RuntimeError(f"regopy failed on {document}")
        allow: bool = json.loads(str(output))["expressions"][0]["allow"]
        return allow


async def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    result = work()
    if hasattr(result, "__await__"):
        await result
    return time.perf_counter() - started


async def run(*, decisions: int, rounds: int, batches: Sequence[int] = (100, 1000)) -> Section:
    """Decisions/s one per call and ``batches`` per call, distinct and repeated inputs."""
    from artifact_plane.adapters.rego import RegoPolicyEngine
    from artifact_plane.realms_manifest import load_realm_manifests, policy_data

    data = policy_data(load_realm_manifests(REPO / "realms"))
    engine = RegoPolicyEngine(REPO / "policies", data, reload_interval=3600)
    direct = DirectRegopy(data)
    section = Section("Policy decisions: RegoPolicyEngine vs direct regopy (same policy, same run)")
    section.notes.append(
        "distinct: every request names another URI (no cache hit); repeated: the same declared fields "
        "again (the engine's decision cache answers); the baseline evaluates every request"
    )
    figures: dict[str, Any] = {}
    for distinct in (True, False):
        for label, per_call in [("single", 1), *((f"batch {size}", size) for size in batches)]:
            total = max(per_call, decisions - decisions % per_call)
            ours: list[float] = []
            theirs: list[float] = []
            agree = 0
            for r in range(rounds):
                requests = _requests(total, distinct=distinct, salt=f"{label}-{distinct}-{r}")
                documents = [request.document() for request in requests]
                chunks: Sequence[Sequence[Any]] = [
                    requests[i : i + per_call] for i in range(0, total, per_call)
                ]
                answers: list[bool] = []

                async def through_engine(
                    chunks: Sequence[Sequence[Any]] = chunks, out: list[bool] = answers
                ) -> None:
                    for chunk in chunks:
                        if len(chunk) == 1:
                            out.append((await engine.decide(chunk[0])).allow)
                        else:
                            out.extend(d.allow for d in await engine.decide_many(chunk))

                ours.append(await _timed(through_engine))
                baseline: list[bool] = []
                theirs.append(
                    await _timed(lambda docs=documents, out=baseline: out.extend(map(direct.decide, docs)))
                )
                agree += sum(a == b for a, b in zip(answers, baseline, strict=True))
            kind = "distinct" if distinct else "repeated"
            mine, base = Stats.of(ours), Stats.of(theirs)
            section.add(
                f"{label}, {kind} ({total} per round)",
                rate(total, mine.median, "decisions"),
                rate(total, base.median, "decisions") + " (direct regopy)",
                mine.median / base.median if base.median > 0 else None,
                ratio_note=f"{agree}/{total * rounds} answers agree",
            )
            figures[f"{kind}_{label.replace(' ', '_')}"] = {
                "decisions_per_round": total,
                "engine_s": ours,
                "regopy_s": theirs,
                "agree": agree,
                "checked": total * rounds,
            }
    section.data = {"rounds": rounds, **figures, "engine_evaluations": engine.evaluations}
    await engine.close()
    return section
