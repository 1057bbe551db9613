"""What the GCS store tells a user who got something wrong, and where its blocking client runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from artifact_plane.adapters.gcs import GcsPayloadStore
from artifact_plane.errors import ConfigurationError
from tests.contracts.payloads_contract import TENANT, agen, blob, scan_all, sha
from tests.gcs import Emulator, raw_client


@pytest.mark.parametrize("size", [10, 600 * 1024])  # one request; resumable upload
async def test_a_missing_bucket_is_a_configuration_error(gcs_server: str, size: int) -> None:
    store = GcsPayloadStore("no-such-bucket-here", endpoint=gcs_server, upload_chunk_size=256 * 1024)
    for call in (store.ping, lambda: store.put_bytes(TENANT, blob(size)), lambda: scan_all(store)):
        with pytest.raises(ConfigurationError) as caught:
            await call()
        assert caught.value.setting == "AP_PAYLOADS_URL"
        assert "create the bucket" in str(caught.value)
    await store.close()


async def test_refused_credentials_are_a_configuration_error_and_not_retried(own_emulator: Emulator) -> None:
    bucket = f"b-{id(own_emulator)}"
    raw_client(own_emulator.url).create_bucket(bucket)
    store = GcsPayloadStore(bucket, endpoint=own_emulator.url, retry_deadline=30)
    await store.stat(TENANT, sha(b"x"))  # the client's first use also looks up the bucket: done here
    for status, setting, advice in [
        (401, "GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login"),
        (403, "AP_PAYLOADS_URL", "roles/storage.objectAdmin"),
    ]:
        own_emulator.inject(count=2, status=status)
        with pytest.raises(ConfigurationError) as caught:
            await store.stat(TENANT, sha(b"x"))
        assert caught.value.setting == setting
        assert advice in str(caught.value)
        if status == 403:  # (on 401, google-auth itself refreshes the credentials and sends once more)
            assert own_emulator.faults_left() == 1, "a refusal must not be retried"
        own_emulator.inject(count=0)
    await store.close()


async def test_no_credentials_found_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A credentials file that does not exist: google-auth fails at once, probing nothing on the network.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
    store = GcsPayloadStore("some-bucket", "prefix")
    with pytest.raises(ConfigurationError) as caught:
        await store.stat(TENANT, sha(b"x"))
    assert caught.value.setting == "GOOGLE_APPLICATION_CREDENTIALS"
    assert "gcloud auth application-default login" in str(caught.value)


async def test_the_blocking_client_never_runs_on_the_event_loop(
    gcs_server: str, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    send = requests.Session.request

    def watched(self: requests.Session, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return send(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", watched)
    store = GcsPayloadStore(gcs_bucket, endpoint=gcs_server, upload_chunk_size=256 * 1024)
    small, large = await store.put_bytes(TENANT, b"small"), await store.put_bytes(TENANT, blob(700_000))
    await store.put_stream(TENANT, agen([b"small"]), expected_sha256=small.sha256)
    assert [c async for c in store.open(TENANT, large.sha256, offset=10)]
    await store.stat(TENANT, small.sha256)
    await scan_all(store)
    await store.ping()
    await store.clean_temp(datetime.now(UTC) - timedelta(hours=1))
    await store.delete_if_stale(TENANT, small.sha256, datetime.now(UTC) + timedelta(minutes=1))
    await store.delete(TENANT, large.sha256)
    await store.close()
    assert len(threads) >= 12, "every operation above sends at least one request"
    assert loop_thread not in threads
