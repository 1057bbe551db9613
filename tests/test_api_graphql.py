"""Every GraphQL query and mutation, every error code, cross-tenant isolation, batching.

One embedded plane (SQLite + directory + Rego with the repository's
policies) per module and transport: in process (httpx ASGI transport) and
behind a real uvicorn server. Tests keep apart by writing their own names.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from artifact_plane.api.app import create_app
from artifact_plane.models import DecisionFilter, Subject
from artifact_plane.plane import ArtifactPlane
from tests.api_server import (
    ADMIN,
    ALICE,
    BOB_OTHER_TENANT,
    READER,
    REPO,
    STEWARD,
    TENANT,
    client_for,
    codes,
    gql,
    make_settings,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

CREATE = "mutation($input: CreateArtifactInput!) { createArtifact(input: $input) { artifactId } }"
WRITE = """mutation($input: WriteArtifactInput!) {
  writeArtifact(input: $input) { artifactId artifact { id uri version status tags } }
}"""
ARTIFACT = """query($id: ID!) { artifact(id: $id) {
  id status realm artifactType
  producedBy { id intent inputs { id } }
  consumedBy { id intent outputs { id } }
} }"""
BY_URI = "query($uri: String!, $v: String) { artifactByUri(uri: $uri, version: $v) { id version } }"
VERSIONS = "query($uri: String!) { versions(uri: $uri) { id version } }"
PAGE = """query($filter: ArtifactFilter, $first: Int, $after: String) {
  artifacts(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}"""
EXECUTION = """query($id: ID!) { execution(id: $id) {
  id intent realm status inputIds outputIds inputs { id } outputs { id } startedAt
} }"""
REGISTER = """mutation($input: RegisterLineageInput!) {
  registerLineage(input: $input) { executionId inputIds outputIds }
}"""
LINEAGE = """query($id: ID!, $dir: LineageDirection!, $depth: Int!, $first: Int, $after: String) {
  lineage(artifactId: $id, direction: $dir, depth: $depth, first: $first, after: $after) {
    root isPartial totalNodes nodes { id kind } edges { kind sourceId targetId }
    pageInfo { hasNextPage endCursor }
  }
}"""
SET_STATUS = (
    "mutation($id: ID!, $s: ArtifactStatus!) { setArtifactStatus(id: $id, status: $s) { id status } }"
)
DELETE = "mutation($id: ID!) { deleteArtifact(id: $id) { artifactId deletedAt } }"
RETENTION = """mutation($id: ID!, $policy: String, $ttl: Int) {
  setRetention(artifactId: $id, retentionPolicy: $policy, ttl: $ttl) {
    id retentionPolicy ttl createdAt expiresAt status
  }
}"""
ARTIFACT_RETENTION = "query($id: ID!) { artifact(id: $id) { retentionPolicy ttl status } }"
RETENTION_TTL_ONLY = """mutation($id: ID!, $ttl: Int) {
  setRetention(artifactId: $id, ttl: $ttl) { id retentionPolicy ttl expiresAt }
}"""
WAIT = "query($id: ID!, $t: Float!) { waitForArtifact(id: $id, timeoutSeconds: $t) { id status } }"
DECISIONS = """query($filter: PolicyDecisionFilter, $first: Int, $after: String) {
  policyDecisions(filter: $filter, first: $first, after: $after) {
    edges { node { id subjectId action resourceRef allow reasons } } pageInfo { hasNextPage endCursor }
  }
}"""
RUN = """mutation($input: RunIntentInput!) {
  runIntent(input: $input) { id status realm intent error inputIds outputIds }
}"""
REGENERATE = "mutation($id: ID!) { regenerate(id: $id) { id status inputIds outputIds } }"
STALE = "query($id: ID!) { artifact(id: $id) { stale staleCauses { kind inputId newerId } } }"
SURVEY = (REPO / "realms" / "content" / "analyze" / "samples" / "dataset.json").read_text()


class Api:
    """A client on the shared server, and the plane behind it (to watch what it is asked)."""

    def __init__(self, client: httpx.AsyncClient, plane: ArtifactPlane) -> None:
        self.client = client
        self.plane = plane

    async def __call__(self, query: str, subject: Subject | None = ALICE, **variables: Any) -> dict[str, Any]:
        return await gql(self.client, query, subject, **variables)

    async def ok(self, query: str, subject: Subject | None = ALICE, **variables: Any) -> dict[str, Any]:
        body = await self(query, subject, **variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def create(self, text: str, subject: Subject = ALICE, **fields: Any) -> str:
        given = {"artifactType": "note", "text": text, "realm": "content", **fields}
        data = await self.ok(CREATE, subject, input=given)
        artifact_id: str = data["createArtifact"]["artifactId"]
        return artifact_id


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-graphql")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["asgi", "uvicorn"])
async def api(request: pytest.FixtureRequest, module_dir: Path) -> AsyncIterator[Api]:
    settings = make_settings("embedded", module_dir / request.param)
    app = create_app(settings)
    async with client_for(app, request.param) as client:
        yield Api(client, app.state.plane)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------ queries


async def test_artifact_with_its_producing_and_consuming_executions(api: Api) -> None:
    source = await api.create(unique("source"))
    made = await api.create(unique("made"))
    run, later = unique("exec"), unique("exec")
    await api.ok(
        REGISTER, input={"executionId": run, "inputs": [source], "outputs": [made], "intent": "derive"}
    )
    await api.ok(REGISTER, input={"executionId": later, "inputs": [made], "intent": "publish"})

    art = (await api.ok(ARTIFACT, id=made))["artifact"]

    assert art["id"] == made
    assert art["status"] == "READY"
    assert art["producedBy"] == [{"id": run, "intent": "derive", "inputs": [{"id": source}]}]
    assert art["consumedBy"] == [{"id": later, "intent": "publish", "outputs": []}]


async def test_classification_inherited_along_registered_lineage(api: Api) -> None:
    source = await api.create(unique("emails"), tags=["pii", "crm"])
    made = await api.create(unique("counts"))
    below = await api.create(unique("chart"))
    await api.ok(REGISTER, input={"executionId": unique("draw"), "inputs": [made], "outputs": [below]})
    await api.ok(REGISTER, input={"executionId": unique("agg"), "inputs": [source], "outputs": [made]})
    query = "query($id: ID!) { artifact(id: $id) { tags inheritedTags } }"
    assert (await api.ok(query, id=source))["artifact"] == {"tags": ["pii", "crm"], "inheritedTags": []}
    for derived in (made, below):
        assert (await api.ok(query, id=derived))["artifact"] == {"tags": [], "inheritedTags": ["pii"]}


async def test_artifacts_filters_each_narrow_the_page(api: Api) -> None:
    kind = unique("kind")
    tag = unique("tag")
    base = f"artifact://insights/{unique('f')}"
    first = await api.ok(
        WRITE, input={"uri": f"{base}/a.md", "text": "a", "artifactType": kind, "tags": [tag]}
    )
    await api.ok(WRITE, input={"uri": f"{base}/b.md", "text": "b", "artifactType": kind, "version": "2.0.0"})
    pending = await api.create(unique("p"), artifactType=kind, status="PENDING")
    a_id = first["writeArtifact"]["artifactId"]
    created_at = (await api.ok("query($id: ID!) { artifact(id: $id) { createdAt } }", id=a_id))["artifact"]

    async def ids(**filters: Any) -> set[str]:
        page = (await api.ok(PAGE, filter={"artifactType": kind, **filters}, first=50))["artifacts"]
        return {edge["node"]["id"] for edge in page["edges"]}

    everything = await ids()
    assert len(everything) == 3
    assert await ids(tags=[tag]) == {a_id}
    assert await ids(status=["PENDING"]) == {pending}
    assert await ids(realm="content") == {pending}
    assert await ids(uri=f"{base}/*.md") == everything - {pending}
    assert len(await ids(minVersion="2.0.0")) == 1
    assert a_id not in await ids(minVersion="2.0.0")
    assert await ids(createdBefore=created_at["createdAt"]) == set()
    assert a_id in await ids(createdAfter="2000-01-01T00:00:00+00:00")


async def test_artifacts_pages_follow_the_cursor_without_repeats(api: Api) -> None:
    kind = unique("paged")
    made = [await api.create(unique("item"), artifactType=kind) for _ in range(5)]
    seen: list[str] = []
    after = None
    while True:
        page = (await api.ok(PAGE, filter={"artifactType": kind}, first=2, after=after))["artifacts"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == made


async def test_artifact_by_uri_and_versions(api: Api) -> None:
    uri = f"artifact://insights/{unique('named')}/report.md"
    one = (await api.ok(WRITE, input={"uri": uri, "text": "v1"}))["writeArtifact"]
    two = (await api.ok(WRITE, input={"uri": uri, "text": "v2"}))["writeArtifact"]
    assert (one["artifact"]["version"], two["artifact"]["version"]) == ("1.0.0", "1.0.1")

    newest = (await api.ok(BY_URI, uri=uri))["artifactByUri"]
    pinned = (await api.ok(BY_URI, uri=uri, v="1.0.0"))["artifactByUri"]
    history = (await api.ok(VERSIONS, uri=uri))["versions"]

    assert newest == {"id": two["artifactId"], "version": "1.0.1"}
    assert pinned == {"id": one["artifactId"], "version": "1.0.0"}
    assert [v["version"] for v in history] == ["1.0.0", "1.0.1"]
    missing = await api(BY_URI, uri=uri, v="9.9.9")
    assert codes(missing) == ["NOT_FOUND"]


async def test_execution_by_id(api: Api) -> None:
    source, made = await api.create(unique("in")), await api.create(unique("out"))
    run = unique("exec")
    await api.ok(
        REGISTER, input={"executionId": run, "inputs": [source], "outputs": [made], "intent": "join"}
    )

    execution = (await api.ok(EXECUTION, id=run))["execution"]

    assert execution["intent"] == "join"
    assert execution["status"] == "SUCCEEDED"
    assert (execution["inputIds"], execution["outputIds"]) == ([source], [made])
    assert execution["inputs"] == [{"id": source}]
    assert execution["outputs"] == [{"id": made}]
    assert codes(await api(EXECUTION, id=unique("nope"))) == ["NOT_FOUND"]


async def chain(api: Api, length: int) -> list[str]:
    """a0 -e-> a1 -e-> ... : ``length`` artifacts joined by executions."""
    artifacts = [await api.create(unique("chain"))]
    for _ in range(length - 1):
        nxt = await api.create(unique("chain"))
        await api.ok(
            REGISTER, input={"executionId": unique("step"), "inputs": [artifacts[-1]], "outputs": [nxt]}
        )
        artifacts.append(nxt)
    return artifacts


async def test_lineage_pages_deliver_every_node_and_edge_once(api: Api) -> None:
    artifacts = await chain(api, 4)
    whole = (await api.ok(LINEAGE, id=artifacts[0], dir="DOWNSTREAM", depth=5))["lineage"]
    assert whole["totalNodes"] == 7  # 4 artifacts and 3 executions
    assert {n["id"] for n in whole["nodes"] if n["kind"] == "ARTIFACT"} == set(artifacts)
    assert len(whole["edges"]) == 6
    assert whole["pageInfo"]["hasNextPage"] is False

    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    after = None
    while True:
        page = (await api.ok(LINEAGE, id=artifacts[0], dir="DOWNSTREAM", depth=5, first=3, after=after))[
            "lineage"
        ]
        nodes += [n["id"] for n in page["nodes"]]
        edges += [(e["sourceId"], e["targetId"]) for e in page["edges"]]
        for source, target in edges:
            assert {source, target} <= set(nodes)  # an edge comes once both its ends have
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert nodes == [n["id"] for n in whole["nodes"]]
    assert sorted(edges) == sorted((e["sourceId"], e["targetId"]) for e in whole["edges"])

    upstream = (await api.ok(LINEAGE, id=artifacts[-1], dir="UPSTREAM", depth=1))["lineage"]
    assert {n["id"] for n in upstream["nodes"] if n["kind"] == "ARTIFACT"} == set(artifacts[-2:])
    both = (await api.ok(LINEAGE, id=artifacts[1], dir="BOTH", depth=1))["lineage"]
    assert {n["id"] for n in both["nodes"] if n["kind"] == "ARTIFACT"} == set(artifacts[:3])
    bad = await api(LINEAGE, id=artifacts[0], dir="DOWNSTREAM", depth=1, after="bm90LWEtY3Vyc29y")
    assert codes(bad) == ["INVALID_INPUT"]


async def test_policy_decisions_are_the_callers_own_and_page(api: Api) -> None:
    rita = Subject(id=unique("rita"), tenant=TENANT, roles=("reader",))
    target = await api.create(unique("audited"))
    await api.ok(ARTIFACT, rita, id=target)
    denied = await api(CREATE, rita, input={"artifactType": "x", "text": "no", "realm": "content"})
    assert codes(denied) == ["FORBIDDEN"]

    mine = (await api.ok(DECISIONS, rita, first=50))["policyDecisions"]
    rows = [edge["node"] for edge in mine["edges"]]
    assert {row["subjectId"] for row in rows} == {rita.id}
    assert any(
        r["action"] == "read" and r["resourceRef"] == f"artifact_id:{target}" and r["allow"] for r in rows
    )
    refusal = next(r for r in rows if r["action"] == "create")
    assert refusal["allow"] is False
    assert any("roles" in reason for reason in refusal["reasons"])
    only_denials = (await api.ok(DECISIONS, rita, filter={"allow": False}))["policyDecisions"]["edges"]
    assert [edge["node"]["id"] for edge in only_denials] == [refusal["id"]]

    first_page = (await api.ok(DECISIONS, rita, first=1))["policyDecisions"]
    second_page = await api.ok(DECISIONS, rita, first=1, after=first_page["pageInfo"]["endCursor"])
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert second_page["policyDecisions"]["edges"][0]["node"]["id"] == rows[1]["id"]

    others = await api(DECISIONS, rita, filter={"subjectId": ALICE.id})
    assert codes(others) == ["FORBIDDEN"]
    assert "may not audit.read" in others["errors"][0]["extensions"]["reasons"][0]
    assert codes(await api(DECISIONS, rita, filter={"allSubjects": True})) == ["FORBIDDEN"]


async def test_only_admins_read_other_subjects_decisions(api: Api) -> None:
    rita = Subject(id=unique("rita"), tenant=TENANT, roles=("reader",))
    admin = Subject(id=unique("ada"), tenant=TENANT, roles=("admin",))
    steward = Subject(id=unique("stu"), tenant=TENANT, roles=("steward",))
    target = await api.create(unique("audited"))
    await api.ok(ARTIFACT, rita, id=target)

    hers = (await api.ok(DECISIONS, admin, filter={"subjectId": rita.id}, first=50))["policyDecisions"]
    assert hers["edges"]
    assert {edge["node"]["subjectId"] for edge in hers["edges"]} == {rita.id}
    everyone = (await api.ok(DECISIONS, admin, filter={"allSubjects": True}, first=1000))["policyDecisions"]
    assert {rita.id, ALICE.id} <= {edge["node"]["subjectId"] for edge in everyone["edges"]}
    refused = await api(DECISIONS, steward, filter={"allSubjects": True})
    assert codes(refused) == ["FORBIDDEN"]
    # The audit reads are themselves decisions in the log, allowed and refused alike.
    audits = await api.ok(DECISIONS, admin, filter={"action": "audit.read", "allSubjects": True})
    seen = {(e["node"]["subjectId"], e["node"]["allow"]) for e in audits["policyDecisions"]["edges"]}
    assert {(admin.id, True), (steward.id, False)} <= seen
    both = await api(DECISIONS, admin, filter={"subjectId": rita.id, "allSubjects": True})
    assert codes(both) == ["INVALID_INPUT"]
    other_tenant = await api(DECISIONS, BOB_OTHER_TENANT, filter={"subjectId": rita.id}, first=50)
    assert [e["node"]["subjectId"] for e in other_tenant["data"]["policyDecisions"]["edges"]] == []


# ----------------------------------------------------------- mutations


async def test_create_pending_then_set_status_and_refuse_a_bad_move(api: Api) -> None:
    pending = await api.create(unique("later"), status="PENDING")
    ready = (await api.ok(SET_STATUS, id=pending, s="READY"))["setArtifactStatus"]
    assert ready == {"id": pending, "status": "READY"}
    back = await api(SET_STATUS, id=pending, s="PENDING")
    assert codes(back) == ["INVALID_INPUT"]
    assert "ready to pending" in back["errors"][0]["message"]


async def test_write_fail_if_exists_conflicts(api: Api) -> None:
    uri = f"artifact://insights/{unique('once')}.md"
    await api.ok(WRITE, input={"uri": uri, "text": "1", "mode": "FAIL_IF_EXISTS"})
    again = await api(WRITE, input={"uri": uri, "text": "2", "mode": "FAIL_IF_EXISTS"})
    assert codes(again) == ["CONFLICT"]
    assert len((await api.ok(VERSIONS, uri=uri))["versions"]) == 1  # nothing more was written


async def test_delete_then_it_is_gone(api: Api) -> None:
    doomed = await api.create(unique("doomed"), realm="insights")
    deleted = (await api.ok(DELETE, STEWARD, id=doomed))["deleteArtifact"]
    assert deleted["artifactId"] == doomed
    assert codes(await api(ARTIFACT, id=doomed)) == ["NOT_FOUND"]
    assert codes(await api(DELETE, STEWARD, id=doomed)) == ["NOT_FOUND"]


async def test_only_stewards_delete(api: Api) -> None:
    kept = await api.create(unique("kept"), realm="insights")
    for subject in (ALICE, ADMIN):
        refused = await api(DELETE, subject, id=kept)
        assert codes(refused) == ["FORBIDDEN"]
        reasons = refused["errors"][0]["extensions"]["reasons"]
        assert reasons == [f"roles: subject {subject.id} with roles {subject.roles[0]} may not delete"]
        logged = [
            d
            for d in await api.plane.decisions.query(
                TENANT, DecisionFilter(action="delete", allow=False), limit=100
            )
            if d.resource_ref == f"artifact_id:{kept}" and d.subject_id == subject.id
        ]
        assert [list(d.reasons) for d in logged] == [reasons]
    assert (await api.ok(ARTIFACT, id=kept))["artifact"]["id"] == kept


async def test_set_retention_as_a_steward(api: Api) -> None:
    art = await api.create(unique("retained"), realm="insights")
    set_both = (await api.ok(RETENTION, STEWARD, id=art, policy="keep-7y", ttl=3600))["setRetention"]
    created = datetime.fromisoformat(set_both["createdAt"])
    assert (set_both["retentionPolicy"], set_both["ttl"]) == ("keep-7y", 3600)
    assert datetime.fromisoformat(set_both["expiresAt"]) == created + timedelta(seconds=3600)
    # An argument left out keeps its value; null clears it.
    ttl_only = (await api.ok(RETENTION_TTL_ONLY, STEWARD, id=art, ttl=None))["setRetention"]
    assert (ttl_only["retentionPolicy"], ttl_only["ttl"], ttl_only["expiresAt"]) == ("keep-7y", None, None)
    cleared = (await api.ok(RETENTION, STEWARD, id=art, policy=None, ttl=60))["setRetention"]
    assert (cleared["retentionPolicy"], cleared["ttl"]) == (None, 60)


async def test_set_retention_refusals(api: Api) -> None:
    art = await api.create(unique("retained"), realm="insights")
    for subject in (ALICE, ADMIN, READER):
        refused = await api(RETENTION, subject, id=art, policy="forever")
        assert codes(refused) == ["FORBIDDEN"]
        assert refused["errors"][0]["extensions"]["reasons"][0].startswith(f"roles: subject {subject.id}")
    assert codes(await api(RETENTION, STEWARD, id=art, ttl=-1)) == ["INVALID_INPUT"]
    assert codes(await api(RETENTION, STEWARD, id=art, policy="not an id")) == ["INVALID_INPUT"]
    assert codes(
        await api("mutation($id: ID!) { setRetention(artifactId: $id) { id } }", STEWARD, id=art)
    ) == ["INVALID_INPUT"]
    assert codes(await api(RETENTION, STEWARD, id=unique("missing"), ttl=1)) == ["NOT_FOUND"]
    # Another tenant's steward finds nothing.
    globex = Subject(id="gus", tenant="globex", roles=("steward",))
    assert codes(await api(RETENTION, globex, id=art, ttl=1)) == ["NOT_FOUND"]
    await api.ok(SET_STATUS, id=art, s="EXPIRED")
    expired = await api(RETENTION, STEWARD, id=art, ttl=1)
    assert codes(expired) == ["INVALID_INPUT"]
    assert "expired" in expired["errors"][0]["message"]
    unchanged = (await api.ok(ARTIFACT_RETENTION, id=art))["artifact"]
    assert (unchanged["retentionPolicy"], unchanged["ttl"], unchanged["status"]) == (None, None, "EXPIRED")


async def test_register_lineage_errors(api: Api) -> None:
    made = await api.create(unique("out"))
    missing = await api(
        REGISTER, input={"executionId": unique("e"), "inputs": [unique("ghost")], "outputs": [made]}
    )
    assert codes(missing) == ["NOT_FOUND"]
    reader = await api(REGISTER, READER, input={"executionId": unique("e"), "outputs": [made]})
    assert codes(reader) == ["FORBIDDEN"]
    bad = await api(REGISTER, input={"executionId": "../x", "outputs": [made]})
    assert codes(bad) == ["INVALID_INPUT"]


async def test_run_intent_runs_a_realm_operator_and_regenerate_follows_a_newer_input(api: Api) -> None:
    uri = f"artifact://content/datasets/{unique('survey')}.json"
    written = await api.ok(WRITE, input={"uri": uri, "text": SURVEY, "artifactType": "dataset"})
    dataset = written["writeArtifact"]["artifactId"]
    inputs = {"dataset": dataset, "name": unique("s"), "group_by": "region"}
    run = (await api.ok(RUN, input={"realm": "content", "intent": "analyze", "inputs": inputs}))["runIntent"]
    assert (run["status"], run["realm"], run["intent"]) == ("SUCCEEDED", "content", "analyze")
    assert run["error"] is None
    assert dataset in run["inputIds"]
    (analysis,) = run["outputIds"]
    assert (await api.ok(STALE, id=analysis))["artifact"] == {"stale": False, "staleCauses": []}

    changed = SURVEY.replace("9", "2")
    newer = await api.ok(WRITE, input={"uri": uri, "text": changed, "artifactType": "dataset"})
    newer_id = newer["writeArtifact"]["artifactId"]
    stale = (await api.ok(STALE, id=analysis))["artifact"]
    assert stale["stale"] is True
    assert stale["staleCauses"] == [{"kind": "input_updated", "inputId": dataset, "newerId": newer_id}]

    again = (await api.ok(REGENERATE, id=analysis))["regenerate"]
    assert again["status"] == "SUCCEEDED"
    assert newer_id in again["inputIds"]
    (refreshed,) = again["outputIds"]
    assert refreshed != analysis
    assert (await api.ok(STALE, id=refreshed))["artifact"]["stale"] is False


async def test_run_intent_and_regenerate_refusals(api: Api) -> None:
    unknown = await api(RUN, input={"realm": "nowhere", "intent": "analyze", "inputs": {}})
    assert codes(unknown) == ["NOT_FOUND"]
    assert unknown["data"] == {"runIntent": None}
    bad_param = await api(
        RUN, input={"realm": "content", "intent": "analyze", "inputs": {"inputs": {}, "params": {"x": 1}}}
    )
    assert codes(bad_param) == ["INVALID_INPUT"]
    uri = f"artifact://content/datasets/{unique('survey')}.json"
    written = await api.ok(WRITE, input={"uri": uri, "text": SURVEY, "artifactType": "dataset"})
    given = {"dataset": written["writeArtifact"]["artifactId"]}
    reader = await api(RUN, READER, input={"realm": "content", "intent": "analyze", "inputs": given})
    assert codes(reader) == ["FORBIDDEN"]  # a reader may read the dataset, not run what writes
    raw = await api.create(unique("raw"))
    assert codes(await api(REGENERATE, id=raw)) == ["INVALID_INPUT"]  # nothing recorded produced it
    assert codes(await api(REGENERATE, BOB_OTHER_TENANT, id=raw)) == ["NOT_FOUND"]


async def test_wait_for_artifact_returns_when_it_leaves_pending(api: Api) -> None:
    pending = await api.create(unique("awaited"), status="PENDING")
    # Either order of the wait and the change must end the wait: no sleep to order them.
    waiting = asyncio.ensure_future(api.ok(WAIT, id=pending, t=20.0))
    await api.ok(SET_STATUS, id=pending, s="FAILED")
    done = await asyncio.wait_for(waiting, timeout=20)
    assert done["waitForArtifact"] == {"id": pending, "status": "FAILED"}
    still = await api.create(unique("still"), status="PENDING")
    timed_out = await api(WAIT, id=still, t=0.05)
    assert codes(timed_out) == ["DEADLINE_EXCEEDED"]


# ------------------------------------------------------- isolation, codes


async def test_another_tenant_sees_nothing_of_this_one(api: Api) -> None:
    uri = f"artifact://insights/{unique('private')}.md"
    mine = (await api.ok(WRITE, input={"uri": uri, "text": "secret"}))["writeArtifact"]["artifactId"]
    run = unique("exec")
    await api.ok(REGISTER, input={"executionId": run, "outputs": [mine]})
    ghost, ghost_run = unique("ghost"), unique("ghost-exec")

    def same(theirs: dict[str, Any], missing: dict[str, Any], real: str, fake: str) -> None:
        assert codes(theirs) == codes(missing) == ["NOT_FOUND"]
        assert theirs["errors"][0]["message"] == missing["errors"][0]["message"].replace(fake, real)

    bob = BOB_OTHER_TENANT
    same(await api(ARTIFACT, bob, id=mine), await api(ARTIFACT, bob, id=ghost), mine, ghost)
    same(await api(EXECUTION, bob, id=run), await api(EXECUTION, bob, id=ghost_run), run, ghost_run)
    same(
        await api(LINEAGE, bob, id=mine, dir="BOTH", depth=1),
        await api(LINEAGE, bob, id=ghost, dir="BOTH", depth=1),
        mine,
        ghost,
    )
    same(
        await api(SET_STATUS, bob, id=mine, s="EXPIRED"),
        await api(SET_STATUS, bob, id=ghost, s="EXPIRED"),
        mine,
        ghost,
    )
    same(await api(DELETE, bob, id=mine), await api(DELETE, bob, id=ghost), mine, ghost)
    same(
        await api(REGISTER, bob, input={"executionId": "e1", "inputs": [mine]}),
        await api(REGISTER, bob, input={"executionId": "e1", "inputs": [ghost]}),
        mine,
        ghost,
    )
    assert codes(await api(BY_URI, bob, uri=uri)) == ["NOT_FOUND"]
    assert (await api.ok(VERSIONS, bob, uri=uri))["versions"] == []
    page = (await api.ok(PAGE, bob, filter={"uri": "artifact://insights/**"}, first=100))["artifacts"]
    assert mine not in {edge["node"]["id"] for edge in page["edges"]}
    theirs = (await api.ok(DECISIONS, bob, first=100))["policyDecisions"]["edges"]
    assert all(mine not in edge["node"]["resourceRef"] for edge in theirs)
    assert (await api.ok(ARTIFACT, id=mine))["artifact"]["status"] == "READY"  # untouched


async def test_missing_token_on_every_operation_is_unauthenticated(api: Api) -> None:
    for query, variables in [
        (ARTIFACT, {"id": "a"}),
        (PAGE, {}),
        (BY_URI, {"uri": "artifact://x/y"}),
        (VERSIONS, {"uri": "artifact://x/y"}),
        (EXECUTION, {"id": "e"}),
        (LINEAGE, {"id": "a", "dir": "BOTH", "depth": 1}),
        (DECISIONS, {}),
        (WAIT, {"id": "a", "t": 0.0}),
        (CREATE, {"input": {"artifactType": "x", "text": "a"}}),
        (WRITE, {"input": {"uri": "artifact://x/y", "text": "a"}}),
        (SET_STATUS, {"id": "a", "s": "READY"}),
        (DELETE, {"id": "a"}),
        (REGISTER, {"input": {"executionId": "e"}}),
        (RUN, {"input": {"realm": "r", "intent": "i"}}),
        (REGENERATE, {"id": "a"}),
    ]:
        body = await api(query, None, **variables)
        assert codes(body) == ["UNAUTHENTICATED"], query
        assert "Authorization: Bearer" in body["errors"][0]["message"]


# ------------------------------------------------------------- batching


Counted = dict[str, int]


def count_calls(plane: ArtifactPlane, names: list[tuple[object, str]]) -> tuple[Counted, Callable[[], None]]:
    """Count calls to the real methods (they still run); returns the counts and an undo."""
    counts: Counted = {}
    originals = []
    for owner, name in names:
        real: Callable[..., Awaitable[Any]] = getattr(owner, name)
        key = f"{type(owner).__name__}.{name}"
        counts[key] = 0

        async def spy(*args: Any, _real: Any = real, _key: str = key, **kwargs: Any) -> Any:
            counts[_key] += 1
            return await _real(*args, **kwargs)

        originals.append((owner, name))
        setattr(owner, name, spy)

    def undo() -> None:
        for owner, name in originals:
            delattr(owner, name)

    return counts, undo


async def test_a_page_with_its_lineage_is_a_few_batched_calls_not_one_per_row(api: Api) -> None:
    kind = unique("batched")
    rows = 12
    for _ in range(rows):
        source = await api.create(unique("src"), artifactType=kind)
        out = await api.create(unique("out"))
        await api.ok(REGISTER, input={"executionId": unique("e"), "inputs": [source], "outputs": [out]})
    query = """query($f: ArtifactFilter) { artifacts(filter: $f, first: 50) { edges { node {
      id consumedBy { id intent outputs { id artifactType } } producedBy { id }
    } } } }"""
    plane = api.plane
    counts, undo = count_calls(
        plane,
        [
            (plane.lineage, "neighbors"),
            (plane.registry, "get_many"),
            (plane.registry, "get_executions"),
            (plane.registry, "get_artifact"),
        ],
    )
    try:
        data = await api.ok(query, f={"artifactType": kind})
    finally:
        undo()
    edges = data["artifacts"]["edges"]
    assert len(edges) == rows
    assert all(len(edge["node"]["consumedBy"]) == 1 for edge in edges)
    assert all(len(edge["node"]["consumedBy"][0]["outputs"]) == 1 for edge in edges)
    # One call per loader level, whatever the number of rows.
    assert counts["SqlLineageStore.neighbors"] == 2  # consumedBy and producedBy, each batched
    assert counts["SqlRegistry.get_executions"] == 1
    assert counts["SqlRegistry.get_many"] <= 3
    assert counts["SqlRegistry.get_artifact"] == 0
