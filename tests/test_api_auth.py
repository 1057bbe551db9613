"""Bearer tokens: RS256 against a real JWKS endpoint, HS256, and every way a token is refused.

The identity provider is a real HTTP server on loopback (http.server in a
thread) serving a JWKS document of an RSA key generated here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from artifact_plane.api.app import create_app
from artifact_plane.models import Subject
from artifact_plane.settings import Settings
from tests.api_server import SECRET, client_for, codes, make_settings

CREATE = """mutation($t: String!) {
  createArtifact(input: {artifactType: "note", text: $t, realm: "content"}) { artifactId }
}"""
ARTIFACT = "query($id: ID!) { artifact(id: $id) { id createdBy } }"
AUDIENCE = "artifact-plane"
ISSUER = "https://idp.test/"


class IdentityProvider:
    """A JWKS endpoint with one RSA key; counts fetches and can be taken down."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-1"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.document = json.dumps({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = provider.document.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(
        self,
        subject: Subject,
        *,
        key: Any = None,
        kid: str | None = None,
        ttl: timedelta = timedelta(minutes=5),
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload = {
            "sub": subject.id,
            "tenant": subject.tenant,
            "roles": list(subject.roles),
            "iat": now,
            "exp": now + ttl,
            "aud": AUDIENCE,
            "iss": ISSUER,
            **claims,
        }
        signer = key or self.key
        pem = signer.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return jwt.encode(payload, pem, algorithm="RS256", headers={"kid": kid or self.kid})


ALICE = Subject(id="alice", tenant="acme", roles=("writer",))
BOB = Subject(id="bob", tenant="globex", roles=("admin",))


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.stop()


def jwks_settings(tmp_path: Path, idp: IdentityProvider, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_secret": None,
        "jwt_jwks_url": idp.url,
        "jwt_audience": AUDIENCE,
        "jwt_issuer": ISSUER,
        **overrides,
    }
    return make_settings("embedded", tmp_path, **values)


async def gql(client: httpx.AsyncClient, query: str, token: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = response.json()
    # GraphQL answers 200, or 401 when a field needed a token it did not get.
    expected = 401 if "UNAUTHENTICATED" in codes(body) else 200
    assert response.status_code == expected, response.text
    return body


@pytest.fixture(params=["asgi", "uvicorn"])
async def jwks_client(
    request: pytest.FixtureRequest, tmp_path: Path, idp: IdentityProvider
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(jwks_settings(tmp_path, idp))
    async with client_for(app, request.param) as client:
        yield client


async def test_rs256_tokens_from_the_jwks_authenticate_and_keep_tenants_apart(
    jwks_client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    alice = idp.token(ALICE)
    created = await gql(jwks_client, CREATE, alice, t="signed by the identity provider")
    assert "errors" not in created, created
    art_id = created["data"]["createArtifact"]["artifactId"]

    mine = await gql(jwks_client, ARTIFACT, alice, id=art_id)
    theirs = await gql(jwks_client, ARTIFACT, idp.token(BOB), id=art_id)
    rest = await jwks_client.get(f"/api/artifact/{art_id}", headers={"Authorization": f"Bearer {alice}"})

    assert mine["data"]["artifact"] == {"id": art_id, "createdBy": "alice"}
    assert codes(theirs) == ["NOT_FOUND"]
    assert rest.status_code == 200
    assert idp.fetches == 1  # the key set is fetched once and cached


async def test_tokens_the_jwks_does_not_vouch_for_are_refused(
    jwks_client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = datetime.now(UTC)
    claims = {"sub": "alice", "tenant": "acme", "roles": ["admin"], "aud": AUDIENCE, "iss": ISSUER}
    refused = {
        "another key, same kid": idp.token(ALICE, key=stranger),
        "unknown kid": idp.token(ALICE, kid="key-2"),
        "expired": idp.token(ALICE, ttl=timedelta(seconds=-60)),
        "wrong audience": idp.token(ALICE, aud="someone-else"),
        "wrong issuer": idp.token(ALICE, iss="https://evil.test/"),
        "no tenant": idp.token(ALICE, tenant=None),
        "HS256 (no secret configured)": jwt.encode(claims, SECRET, algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        # Algorithm confusion: the public key used as an HMAC secret.
        "HS256 keyed with the public key": _hmac_with(
            public_pem, {**claims, "exp": now + timedelta(minutes=5)}
        ),
    }
    for why, token in refused.items():
        body = await gql(jwks_client, ARTIFACT, token, id="anything")
        assert codes(body) == ["UNAUTHENTICATED"], why
        response = await jwks_client.get(
            "/api/artifact/anything", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, why


def _hmac_with(key: bytes, claims: dict[str, Any]) -> str:
    import base64
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims, default=lambda d: int(d.timestamp())).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


async def test_an_unreachable_identity_provider_is_unavailable_not_unauthenticated(
    tmp_path: Path, idp: IdentityProvider
) -> None:
    token = idp.token(ALICE)
    idp.stop()
    app = create_app(jwks_settings(tmp_path, idp))
    async with client_for(app, "asgi") as client:
        body = await gql(client, ARTIFACT, token, id="x")
        rest = await client.get("/api/artifact/x", headers={"Authorization": f"Bearer {token}"})
    assert codes(body) == ["UNAVAILABLE"]
    assert "retry" in body["errors"][0]["message"]
    assert rest.status_code == 503
    assert rest.json()["error"]["code"] == "UNAVAILABLE"


async def test_hs256_and_jwks_together_each_verify_their_own(tmp_path: Path, idp: IdentityProvider) -> None:
    from artifact_plane.api.auth import mint_token

    app = create_app(jwks_settings(tmp_path, idp, jwt_secret=SECRET, jwt_audience=None, jwt_issuer=None))
    async with client_for(app, "asgi") as client:
        service = await gql(client, CREATE, mint_token(SECRET, ALICE), t="service token")
        person = await gql(client, CREATE, idp.token(ALICE), t="person token")
    assert "errors" not in service, service
    assert "errors" not in person, person
