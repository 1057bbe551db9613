"""GraphQL ``policyAudit``: admins re-check their tenant's artifacts against the policy in force.

The app runs in process on the embedded plane (SQLite + directory + Rego)
with a copy of ``policies/`` in a temporary directory, which a test
tightens (insights may no longer hold reports, as in ``tests/test_audit.py``)
so that artifacts stored before become non-compliant.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from artifact_plane.api.app import create_app
from artifact_plane.models import DecisionFilter, Subject
from artifact_plane.plane import ArtifactPlane
from tests.api_server import ADMIN, ALICE, BOB_OTHER_TENANT, REPO, TENANT, codes, gql, make_settings
from tests.test_audit import tighten
from tests.waiting import eventually

CREATE = "mutation($input: CreateArtifactInput!) { createArtifact(input: $input) { artifactId } }"
AUDIT = """query($realm: String, $actions: [String!], $asRealm: String! = "owner", $first: Int) {
  policyAudit(realm: $realm, actions: $actions, asRealm: $asRealm, first: $first) {
    tenant revision revisions engine checks { action roles } scanned decisions deniedArtifacts
    violationCount groups { rule realm action count }
    violations { artifactId realm artifactType uri action subjectId reasons rules }
  }
}"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    copied = tmp_path / "policies"
    shutil.copytree(REPO / "policies", copied, ignore=shutil.ignore_patterns("*_test.rego"))
    return copied


@pytest.fixture
async def api(tmp_path: Path, policy_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ArtifactPlane]]:
    app = create_app(make_settings("embedded", tmp_path, policy_dir=policy_dir))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app.state.plane


async def create(client: httpx.AsyncClient, subject: Subject, artifact_type: str, text: str) -> str:
    given = {"artifactType": artifact_type, "text": text, "realm": "insights"}
    body = await gql(client, CREATE, subject, input=given)
    assert "errors" not in body, body
    artifact_id: str = body["data"]["createArtifact"]["artifactId"]
    return artifact_id


async def audit(client: httpx.AsyncClient, subject: Subject, **variables: Any) -> dict[str, Any]:
    body = await gql(client, AUDIT, subject, **variables)
    assert "errors" not in body, body
    report: dict[str, Any] = body["data"]["policyAudit"]
    return report


async def test_an_admin_sees_what_a_tighter_policy_would_now_deny(
    api: tuple[httpx.AsyncClient, ArtifactPlane], policy_dir: Path
) -> None:
    client, _ = api
    report_id = await create(client, ALICE, "report", "quarterly")
    await create(client, ALICE, "interpretation", "reading")
    theirs = await create(client, BOB_OTHER_TENANT, "report", "globex's own report")

    clean = await audit(client, ADMIN)
    assert (clean["tenant"], clean["scanned"], clean["decisions"]) == (TENANT, 2, 4)
    assert (clean["violationCount"], clean["deniedArtifacts"], clean["violations"]) == (0, 0, [])
    assert clean["checks"] == [
        {"action": "read", "roles": ["reader"]},
        {"action": "create", "roles": ["writer"]},
    ]

    tighten(policy_dir)
    found: dict[str, Any] = {}

    async def reported() -> bool:  # the engine looks at the files again within a second
        found.update(await audit(client, ADMIN))
        return bool(found["violationCount"])

    await eventually(reported, "the audit to see the tightened policy", timeout=15)
    assert found["revision"] != clean["revision"]
    assert found["scanned"] == 2
    assert (found["violationCount"], found["deniedArtifacts"]) == (2, 1)
    assert found["groups"] == [
        {"rule": "content_type", "realm": "insights", "action": "create", "count": 1},
        {"rule": "content_type", "realm": "insights", "action": "read", "count": 1},
    ]
    assert {(v["artifactId"], v["action"]) for v in found["violations"]} == {
        (report_id, "read"),
        (report_id, "create"),
    }
    violation = found["violations"][0]
    assert violation["subjectId"] == ALICE.id  # asked as its creator
    assert violation["rules"] == ["content_type"]
    assert violation["reasons"] == ["content_type: realm insights may no longer hold artifact type report"]

    # Capped, not paged: the counts still cover every violation.
    capped = await audit(client, ADMIN, first=1)
    assert (len(capped["violations"]), capped["violationCount"]) == (1, 2)
    # Only the actions asked for; only the realm asked for.
    reads = await audit(client, ADMIN, actions=["read"])
    assert [v["action"] for v in reads["violations"]] == ["read"]
    assert reads["checks"] == [{"action": "read", "roles": ["reader"]}]
    elsewhere = await audit(client, ADMIN, realm="content")
    assert (elsewhere["scanned"], elsewhere["violationCount"]) == (0, 0)

    # The other tenant's admin sees only the other tenant's artifacts, and ours never.
    other = await audit(client, BOB_OTHER_TENANT)
    assert other["tenant"] == "globex"
    assert other["scanned"] == 1
    assert {v["artifactId"] for v in other["violations"]} == {theirs}
    assert report_id not in str(other)


async def test_a_writer_is_refused_and_the_refusal_is_logged(
    api: tuple[httpx.AsyncClient, ArtifactPlane],
) -> None:
    client, plane = api
    await create(client, ALICE, "report", "quarterly")
    refused = await gql(client, AUDIT, ALICE)
    assert codes(refused) == ["FORBIDDEN"]
    assert refused["data"] is None
    assert "may not audit.read" in refused["errors"][0]["extensions"]["reasons"][0]
    denials = await plane.decisions.query(TENANT, DecisionFilter(action="audit.read", allow=False), limit=10)
    assert [(d.subject_id, d.allow) for d in denials] == [(ALICE.id, False)]
    # An admin's audit is an allowed audit.read decision in the log too.
    await audit(client, ADMIN)
    allowed = await plane.decisions.query(TENANT, DecisionFilter(action="audit.read", allow=True), limit=10)
    assert [d.subject_id for d in allowed] == [ADMIN.id]
    # No token, no audit.
    assert codes(await gql(client, AUDIT, None)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"actions": ["fly"]}, "actions"),
        ({"realm": "../etc"}, "realm"),
        ({"asRealm": "a/b"}, "asRealm"),
        ({"first": 0}, "first"),
    ],
)
async def test_bad_arguments_are_invalid_input(
    api: tuple[httpx.AsyncClient, ArtifactPlane], variables: dict[str, Any], field: str
) -> None:
    client, plane = api
    body = await gql(client, AUDIT, ADMIN, **variables)
    assert codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    # Refused before policy was asked: nothing was decided or logged.
    assert await plane.decisions.query(TENANT, DecisionFilter(action="audit.read"), limit=10) == []
