"""OpaPolicyEngine.

With ``AP_TEST_OPA_URL`` (an OPA server, e.g. the compose stack's) the policy
engine contract runs over it, pushing ``policies/`` and the realm manifests;
without it that suite skips with the reason (OPA cannot run on this machine).

Without a server: URL and answer parsing, the revision shared with the
in-process engine, fail-closed denials through the real client against an
unreachable port, and the HTTP exchanges against a loopback server that
records requests and answers in the shapes of OPA's REST API (it checks what
the engine sends and how it reads answers; it evaluates no Rego).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from artifact_plane.adapters.opa import OpaDecision, OpaPolicyEngine
from artifact_plane.adapters.opa.engine import ENGINE_ERROR, decision_of, parse_url
from artifact_plane.adapters.rego import RegoPolicyEngine
from artifact_plane.errors import BackendUnavailableError, ConfigurationError
from artifact_plane.models import PolicyInput, Subject
from artifact_plane.ports.policy import PolicyEngine
from artifact_plane.realms_manifest import load_realm_manifests, policy_data
from artifact_plane.settings import Settings
from artifact_plane.wiring import build_policy
from tests.contracts.policy_contract import PolicyEngineContract, read_request

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "policies"
UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1: a refused connection


def realm_data() -> dict[str, Any]:
    return policy_data(load_realm_manifests(REPO / "realms"))


# -- the contract, over a real OPA server -------------------------------------------


class TestOpaPolicyEngine(PolicyEngineContract):
    @pytest.fixture
    async def policy_engine(self) -> AsyncIterator[PolicyEngine]:
        url = os.environ.get("AP_TEST_OPA_URL")
        if not url:
            pytest.skip(
                "OPA server unavailable here: set AP_TEST_OPA_URL=http://127.0.0.1:8181 to run on one"
            )
        engine = OpaPolicyEngine(url, POLICIES, realm_data())
        yield engine
        await engine.close()

    async def test_it_agrees_with_the_in_process_engine(self, policy_engine: PolicyEngine) -> None:
        rego = RegoPolicyEngine(POLICIES, realm_data())
        writer = Subject(id="w", tenant="acme", roles=("writer",), realm="journey")
        requests = [
            read_request("acme", "acme"),
            read_request("acme", "globex"),
            PolicyInput(
                subject=writer,
                action="read",
                resource={"tenant_id": "acme", "realm": "insights", "artifact_type": "report"},
            ),
        ]
        over_http = await policy_engine.decide_many(requests)
        in_process = await rego.decide_many(requests)
        assert [(d.allow, d.reasons) for d in over_http] == [(d.allow, d.reasons) for d in in_process]
        assert policy_engine.revision == rego.revision
        await rego.close()


# -- without a server ----------------------------------------------------------------


def test_urls_are_scheme_host_and_port_only() -> None:
    assert parse_url("http://opa:8181") == ("opa", 8181, False)
    assert parse_url("http://opa") == ("opa", 8181, False)
    assert parse_url("https://policy.example/") == ("policy.example", 443, True)
    for bad in ["opa:8181", "ftp://opa", "http://opa:8181/v1", "http://u:p@opa:8181", "http://opa:99999"]:
        with pytest.raises(ConfigurationError) as err:
            parse_url(bad)
        assert err.value.setting == "AP_POLICY_URL"


def test_answers_are_read_strictly() -> None:
    assert decision_of({"result": {"allow": True, "reasons": []}}, "x") == (True, (), None)
    assert decision_of({"result": {"allow": False, "reasons": ["a: b"]}, "decision_id": "d-1"}, "x") == (
        False,
        ("a: b",),
        "d-1",
    )
    for bad, why in [
        ({}, "undefined"),
        ({"result": {"allow": "yes"}}, "not {allow"),
        ({"result": {"allow": True, "reasons": [1]}}, "not a list of strings"),
        ([], "not a JSON object"),
    ]:
        with pytest.raises(ValueError, match=why):
            decision_of(bad, "x")


def test_the_revision_is_the_in_process_engines() -> None:
    # The same files and data are the same revision in the log, whichever engine decided.
    opa = OpaPolicyEngine(UNREACHABLE, POLICIES, realm_data())
    rego = RegoPolicyEngine(POLICIES, realm_data())
    assert opa.revision == rego.revision
    assert OpaPolicyEngine(UNREACHABLE, POLICIES, {}).revision != opa.revision


def test_wiring_selects_it_by_url(tmp_path: Path) -> None:
    settings = Settings(
        policy_url="http://opa.internal:8181",
        policy_dir=POLICIES,
        realms_dir=REPO / "realms",
        data_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = build_policy(settings)
    assert isinstance(engine, OpaPolicyEngine)
    assert engine.url == "http://opa.internal:8181"
    with pytest.raises(ConfigurationError, match="AP_POLICY_URL"):
        build_policy(settings.model_copy(update={"policy_url": "http://opa:8181/v1/data"}))
    with pytest.raises(ConfigurationError, match="AP_POLICY_DIR"):
        build_policy(settings.model_copy(update={"policy_dir": tmp_path / "missing"}))


async def test_an_unreachable_server_denies_every_request_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = OpaPolicyEngine(UNREACHABLE, POLICIES, realm_data(), timeout=2.0, retries=0)
    caplog.set_level(logging.ERROR)
    decisions = await engine.decide_many([read_request("acme", "acme") for _ in range(3)])
    assert [d.allow for d in decisions] == [False] * 3
    for decision in decisions:
        assert decision.reasons[0].startswith(ENGINE_ERROR + "policy server unavailable")
        assert UNREACHABLE in decision.reasons[0]
        assert (decision.engine, decision.revision) == ("opa", engine.revision)
    assert any("denying 3 request(s)" in r.getMessage() for r in caplog.records)
    single = await engine.decide(read_request("acme", "acme"))
    assert not single.allow
    with pytest.raises(BackendUnavailableError):
        await engine.ping()
    await engine.close()


# -- the exchanges, against a recording server -------------------------------------


class RecordingOpa:
    """Answers like OPA's REST API and records what it was sent; ``answer`` is the query result."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.queries: list[tuple[str, Any]] = []
        self.answer: dict[str, Any] = {"result": {"allow": True, "reasons": []}, "decision_id": "opa-1"}
        self.query_status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/v1/policies", self.list_policies)
        app.router.add_route("*", "/v1/policies/{id:.+}", self.policy)
        app.router.add_put("/v1/data/{path:.+}", self.put_data)
        app.router.add_post("/v1/data/{path:.+}", self.query)
        return app

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({})

    async def list_policies(self, _: web.Request) -> web.Response:
        return web.json_response({"result": [{"id": i, "raw": t} for i, t in self.policies.items()]})

    async def policy(self, request: web.Request) -> web.Response:
        policy_id = request.match_info["id"]
        if request.method == "PUT":
            self.policies[policy_id] = await request.text()
            return web.json_response({})
        if request.method == "DELETE":
            del self.policies[policy_id]
            return web.json_response({})
        return web.json_response({"code": "not_supported"}, status=405)

    async def put_data(self, request: web.Request) -> web.Response:
        self.data[request.match_info["path"]] = await request.json()
        return web.Response(status=204)

    async def query(self, request: web.Request) -> web.Response:
        self.queries.append((request.match_info["path"], await request.json()))
        if self.query_status != 200:
            return web.json_response({"code": "internal_error"}, status=self.query_status)
        if not self.policies:  # like OPA: nothing loaded, the decision is undefined
            return web.json_response({})
        return web.json_response(self.answer)


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[RecordingOpa, str]]:
    opa = RecordingOpa()
    runner = web.AppRunner(opa.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield opa, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def copied_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    target.mkdir()
    for path in POLICIES.iterdir():
        target.joinpath(path.name).write_text(path.read_text())
    return target


async def test_it_pushes_the_policies_and_data_then_queries_the_entrypoint(
    recorder: tuple[RecordingOpa, str], tmp_path: Path
) -> None:
    opa, url = recorder
    policy_dir = copied_policies(tmp_path)
    engine = OpaPolicyEngine(url, policy_dir, realm_data())
    request = read_request("acme", "acme")
    decision = await engine.decide(request)
    assert isinstance(decision, OpaDecision)
    assert (decision.allow, decision.decision_id, decision.engine) == (True, "opa-1", "opa")
    modules = sorted(p.name for p in policy_dir.glob("*.rego") if not p.name.endswith("_test.rego"))
    assert sorted(opa.policies) == [f"artifact_plane/{name}" for name in modules]
    assert opa.policies["artifact_plane/decision.rego"] == (policy_dir / "decision.rego").read_text()
    assert opa.data == {"realms": realm_data()["realms"]}
    assert opa.queries == [("artifact_plane/authz/decision", {"input": request.document()})]
    # Pushed once per revision; a batch is one query per request, answers in order.
    opa.answer = {"result": {"allow": False, "reasons": ["tenant_isolation: no"]}, "decision_id": "opa-2"}
    batch = await engine.decide_many([read_request("acme", "acme"), read_request("acme", "globex")])
    assert [(d.allow, d.reasons) for d in batch] == [(False, ("tenant_isolation: no",))] * 2
    assert len(opa.queries) == 3
    # A changed file is a new revision, pushed before the next decision; a removed module is deleted.
    (policy_dir / "actions_extra.rego").write_text("package artifact_plane.authz.extra\n\nx := 1\n")
    (policy_dir / "tenant.rego").unlink()
    engine._reload_interval = 0.0
    before = engine.revision
    await engine.decide(request)
    assert engine.revision != before
    assert "artifact_plane/actions_extra.rego" in opa.policies
    assert "artifact_plane/tenant.rego" not in opa.policies
    await engine.close()


async def test_modules_the_server_already_holds_are_not_pushed_twice(
    recorder: tuple[RecordingOpa, str],
) -> None:
    opa, url = recorder
    # As `opa run /policies` loads them: the same texts under the server's own ids.
    for path in POLICIES.glob("*.rego"):
        opa.policies[f"/policies/{path.name}"] = path.read_text()
    engine = OpaPolicyEngine(url, POLICIES, realm_data())
    assert (await engine.decide(read_request("acme", "acme"))).allow
    assert not [p for p in opa.policies if p.startswith("artifact_plane/")]
    assert opa.data == {"realms": realm_data()["realms"]}
    await engine.close()


async def test_server_errors_and_lost_policies_fail_closed(
    recorder: tuple[RecordingOpa, str], caplog: pytest.LogCaptureFixture
) -> None:
    opa, url = recorder
    engine = OpaPolicyEngine(url, POLICIES, realm_data(), retries=0)
    assert (await engine.decide(read_request("acme", "acme"))).allow
    # The server restarted and lost what was pushed: the engine pushes again and asks again.
    opa.policies.clear()
    assert (await engine.decide(read_request("acme", "acme"))).allow
    assert opa.policies
    caplog.set_level(logging.ERROR)
    opa.query_status = 500
    denied = await engine.decide(read_request("acme", "acme"))
    assert not denied.allow
    assert denied.reasons[0].startswith(ENGINE_ERROR)
    assert "HTTP 500" in denied.reasons[0]
    assert any("failed 1 of 1 decision" in r.getMessage() for r in caplog.records)
    opa.query_status = 200
    opa.answer = {"result": {"allow": "maybe"}}
    malformed = await engine.decide(read_request("acme", "acme"))
    assert not malformed.allow
    assert "not {allow" in malformed.reasons[0]
    await engine.ping()
    await engine.close()
