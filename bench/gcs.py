"""GCS payloads: upload and download throughput through the plane against the raw client.

The server is ``AP_BENCH_GCS_URL``, else ``gcp-storage-emulator`` started in
memory on a free loopback port. Both sides talk to the same server in the
same run, taking turns:

* ours: ``ScopedPlane.create_artifact`` (policy, a ``GcsPayloadStore`` write,
  the SQLite registry row) and ``get_artifact(include_payload=True)`` (policy,
  registry row, ranged reads of the payload);
* baseline: ``Blob.upload_from_string`` and ``Blob.download_as_bytes`` with the
  client's defaults (one request each way).

Every sample writes fresh bytes (content addressing would otherwise skip the
upload). Against the emulator the ratios are dominated by what the server
does per request (the store's 64 MiB write is a resumable upload to ``tmp/``
plus a rewrite, where the raw client sends one request), so they show the
cost of streaming and of never leaving half a payload at its key, not what
Google's servers would measure.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import Stats, embedded_settings, stopwatch, subject
from bench.report import Section

URL_SETTING = "AP_BENCH_GCS_URL"
MIB = 1024 * 1024
SIZES = (1 * MIB, 64 * MIB)
SIDES = ("plane", "store", "raw")
START_LIMIT = 30.0
POLL_INTERVAL = 0.05


class Unavailable(Exception):
    """No GCS server can be had here; the message says why."""


def unavailable() -> str | None:
    """Why no server can be had here, or None when one can (cheap: nothing is started)."""
    try:
        import google.cloud.storage  # noqa: F401
    except ImportError:
        return "no google-cloud-storage: pip install -e '.[gcs]'"
    if os.environ.get(URL_SETTING):
        return None
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError:
        return f"no gcp-storage-emulator: pip install -e '.[dev]'; or set {URL_SETTING}"
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@contextmanager
def server() -> Iterator[str]:
    """``AP_BENCH_GCS_URL``, else a throw-away in-memory emulator on loopback."""
    if reason := unavailable():
        raise Unavailable(reason)
    if url := os.environ.get(URL_SETTING):
        yield url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_LIMIT
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise Unavailable(f"gcp-storage-emulator did not answer on {url}")
            time.sleep(POLL_INTERVAL)
        yield url
    finally:
        process.kill()
        process.wait(timeout=START_LIMIT)


def _client(url: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="bench", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )


async def run(root: Path, url: str, *, samples: int, big_samples: int, seed: int) -> Section:
    """Upload and download of 1 MiB and 64 MiB payloads, plane against raw client, turn about."""
    import anyio.to_thread

    from artifact_plane.adapters.gcs import GcsPayloadStore
    from artifact_plane.plane import ArtifactPlane
    from artifact_plane.wiring import build_plane

    section = Section("GCS payloads (emulator): plane vs raw google-cloud-storage")
    client = _client(url)
    bucket_name = f"ap-bench-{uuid.uuid4().hex[:12]}"
    bucket = await anyio.to_thread.run_sync(client.create_bucket, bucket_name)
    base = build_plane(embedded_settings(root / "plane"))
    store = GcsPayloadStore(bucket_name, "bench", endpoint=url)
    plane = ArtifactPlane(
        registry=base.registry,
        payloads=store,
        lineage=base.lineage,
        policy=base.policy,
        decisions=base.decisions,
        settings=base.settings,
    )
    await plane.registry.initialize()
    me = plane.for_subject(subject())
    rng = random.Random(seed)
    try:
        await me.create_artifact(rng.randbytes(1024), artifact_type="blob")  # warm-up: Rego, connections
        for size in SIZES:
            count = samples if size <= MIB else big_samples
            times: dict[str, list[float]] = {f"{side}_{way}": [] for side in SIDES for way in ("up", "down")}
            for _ in range(count):
                data = rng.randbytes(size)
                with stopwatch() as took:
                    art_id = await me.create_artifact(data, artifact_type="blob")
                times["plane_up"].append(took[0])
                blob = bucket.blob(f"raw/{uuid.uuid4().hex}")
                raw = rng.randbytes(size)
                with stopwatch() as took:
                    await anyio.to_thread.run_sync(blob.upload_from_string, raw)
                times["raw_up"].append(took[0])
                with stopwatch() as took:
                    artifact = await me.get_artifact(art_id, include_payload=True)
                times["plane_down"].append(took[0])
                got = artifact.payload
                with stopwatch() as took:
                    back = await anyio.to_thread.run_sync(blob.download_as_bytes)
                times["raw_down"].append(took[0])
                if got != data or back != raw:
                    raise AssertionError("a payload came back different from what was written")
                alone = rng.randbytes(size)
                with stopwatch() as took:
                    stored = await store.put_bytes("alone", alone)
                times["store_up"].append(took[0])
                with stopwatch() as took:
                    read = await store.get_bytes("alone", stored.sha256)
                times["store_down"].append(took[0])
                if read != alone:
                    raise AssertionError("a payload came back different from what was written")
                # The emulator keeps everything in memory: drop every copy (not timed).
                await store.delete(artifact.tenant_id, artifact.sha256)
                await store.delete("alone", stored.sha256)
                await anyio.to_thread.run_sync(blob.delete)
            label = f"{size // MIB} MiB"
            section.data[label] = {"samples": count, "bytes": size, **{f"{k}_s": v for k, v in times.items()}}
            for way, verb in (("up", "upload"), ("down", "download")):
                theirs = Stats.of(times[f"raw_{way}"])
                for side, how in (("plane", "plane"), ("store", "store alone")):
                    ours = Stats.of(times[f"{side}_{way}"])
                    per_sample = np.asarray(times[f"{side}_{way}"]) / np.asarray(times[f"raw_{way}"])
                    section.add(
                        f"{verb} {label} x{count}, {how}",
                        _throughput(size, ours.median),
                        f"raw client: {_throughput(size, theirs.median)}",
                        ours.median / theirs.median,
                        ratio_note=f"{per_sample.min():,.2f}-{per_sample.max():,.2f}" if count > 1 else "",
                    )
    finally:
        await plane.close()
        await base.payloads.close()
        await anyio.to_thread.run_sync(client.close)
    origin = f"given by {URL_SETTING}" if os.environ.get(URL_SETTING) else "gcp-storage-emulator"
    section.notes += [
        f"Server: {url} ({origin}). "
        "Medians of samples taken turn about; the dim range is the lowest and highest per-sample ratio.",
        "'plane' is ScopedPlane.create_artifact / get_artifact(include_payload=True): policy decision, "
        "audit row and registry row on SQLite (fsync), and the store. 'store alone' is GcsPayloadStore "
        "put_bytes / get_bytes: 8 MiB resumable chunks past one chunk, hashed while streaming, tmp/ then "
        "rewrite; a metadata read, then ranged 8 MiB reads pinned to that generation. The raw client "
        "sends each payload in one request and reads it in one.",
        "The emulator is single-threaded pure Python and copies each resumable chunk into the whole upload "
        "so far: the 64 MiB ratios mostly measure it, not GCS.",
    ]
    return section


def _throughput(size: int, seconds: float) -> str:
    return f"{size / MIB / seconds:,.1f} MiB/s" if seconds > 0 else "∞"
