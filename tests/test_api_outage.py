"""The API on PostgreSQL while the database is down: UNAVAILABLE and 503, then recovery.

A dedicated cluster (the one ``tests/test_pg_faults.py`` starts and stops),
served by a real uvicorn.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import httpx

from artifact_plane.api.app import create_app
from tests import test_pg_faults
from tests.api_server import ALICE, auth, codes, gql, make_settings, uvicorn_thread
from tests.test_pg_faults import Cluster

cluster = test_pg_faults.cluster  # the fixture: a dedicated cluster this test may stop and start

ARTIFACT = "query($id: ID!) { artifact(id: $id) { id status } }"
CREATE = """mutation {
  createArtifact(input: {artifactType: "x", text: "kept across the outage", realm: "content"}) { artifactId }
}"""


async def test_a_database_outage_is_unavailable_and_the_api_recovers(
    cluster: Cluster, tmp_path: Path
) -> None:
    app = create_app(make_settings("embedded", tmp_path, registry_url=cluster.url))
    with uvicorn_thread(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            created = await gql(client, CREATE, ALICE)
            art = created["data"]["createArtifact"]["artifactId"]

            await anyio.to_thread.run_sync(cluster.stop, "fast")
            down = await gql(client, ARTIFACT, ALICE, id=art)
            rest = await client.get(f"/api/artifact/{art}", headers=auth(ALICE))
            ready = await client.get("/readyz")
            assert codes(down) == ["UNAVAILABLE"]
            assert "retry" in down["errors"][0]["message"]
            assert rest.status_code == 503
            assert rest.json()["error"]["code"] == "UNAVAILABLE"
            assert ready.status_code == 503
            assert ready.json()["parts"]["registry"] == "unavailable"
            assert cluster.url not in down["errors"][0]["message"]

            await anyio.to_thread.run_sync(cluster.start)
            back = await gql(client, ARTIFACT, ALICE, id=art)
            assert back["data"]["artifact"] == {"id": art, "status": "READY"}
            assert (await client.get("/readyz")).status_code == 200
