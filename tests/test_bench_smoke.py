"""``python -m bench --quick`` completes, prints both sections, and every walk agrees with networkx."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bench import postgres
from bench.__main__ import main
from rich.console import Console

from tests.conftest import require_server


def test_quick_bench_completes_and_node_sets_match(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    console = Console(file=io.StringIO(), record=True, width=160)

    code = main(["--quick", "--output", str(output), "--tmp", str(tmp_path)], console=console)

    printed = console.export_text()
    assert code == 0
    assert "Embedded ingest" in printed
    assert "Lineage: downstream walks" in printed
    assert "ratios to baselines measured in this same run" in printed

    sections = json.loads(output.read_text())["sections"]
    ingest = next(s for title, s in sections.items() if title.startswith("Embedded ingest"))
    for mode in ("one_at_a_time", "batched"):
        figures = ingest["data"][mode]
        assert figures["artifacts"] > 0
        assert sum(figures["plane_s"]) > 0
        assert sum(figures["rows_files_s"]) > 0
    lineage = next(s for title, s in sections.items() if title.startswith("Lineage"))
    for depth in (3, 10):
        walked = lineage["data"][f"depth_{depth}"]
        assert walked["walks"] > 0
        assert walked["node_sets_match"] == walked["walks"]
        assert walked["plane_lineage"]["count"] >= 1
    assert lineage["data"]["depth_10"]["nodes"]["max"] > lineage["data"]["depth_3"]["nodes"]["max"]


def test_quick_postgres_bench_prints_its_section_and_node_sets_match(tmp_path: Path) -> None:
    if reason := postgres.unavailable():
        require_server("PostgreSQL", reason)  # fails under CI=true instead of skipping
    output = tmp_path / "latest.json"
    console = Console(file=io.StringIO(), record=True, width=160)

    code = main(
        ["--only", "postgres", "--quick", "--output", str(output), "--tmp", str(tmp_path)], console=console
    )

    printed = console.export_text()
    assert code == 0, printed
    assert "PostgreSQL: ingest and lineage" in printed
    assert "ANSWER depth 3:" in printed
    assert "ANSWER depth 10:" in printed

    (section,) = json.loads(output.read_text())["sections"].values()
    for mode in ("one_at_a_time", "batched"):
        figures = section["data"][f"ingest_{mode}"]
        assert figures["artifacts"] > 0
        assert sum(figures["plane_s"]) > 0
        assert sum(figures["raw_s"]) > 0
        assert sum(figures["raw_files_s"]) > 0
    for depth in (3, 10):
        walked = section["data"][f"depth_{depth}"]
        assert walked["walks"] > 0
        assert walked["node_sets_match"] == walked["walks"]


def test_quick_gcs_bench_prints_its_section(tmp_path: Path) -> None:
    import statistics

    import pytest
    from bench import gcs

    if reason := gcs.unavailable():
        require_server("GCS emulator", reason)  # fails under CI=true instead of skipping
    output = tmp_path / "latest.json"
    console = Console(file=io.StringIO(), record=True, width=160)

    argv = ["--only", "gcs", "--quick", "--output", str(output), "--tmp", str(tmp_path)]
    code = main(argv, console=console)

    printed = console.export_text()
    assert code == 0, printed
    assert "GCS payloads (emulator): plane vs raw google-cloud-storage" in printed
    for row in ("upload 1 MiB", "download 1 MiB", "upload 64 MiB", "download 64 MiB"):
        assert f"{row} x" in printed

    (section,) = json.loads(output.read_text())["sections"].values()
    expected = []
    for label in ("1 MiB", "64 MiB"):
        figures = section["data"][label]
        assert figures["samples"] >= 1
        for way in ("up", "down"):
            for side in ("plane", "store", "raw"):
                assert len(figures[f"{side}_{way}_s"]) == figures["samples"]
                assert min(figures[f"{side}_{way}_s"]) > 0
            for side in ("plane", "store"):
                ours, raw = figures[f"{side}_{way}_s"], figures[f"raw_{way}_s"]
                expected.append(statistics.median(ours) / statistics.median(raw))
    # Each printed ratio is our median time over the raw client's, from the same run.
    assert [row["ratio"] for row in section["rows"]] == pytest.approx(expected)


def test_quick_api_bench_prints_ratios_from_the_same_run(tmp_path: Path) -> None:
    import pytest

    output = tmp_path / "latest.json"
    console = Console(file=io.StringIO(), record=True, width=160)

    argv = ["--only", "api", "--quick", "--output", str(output), "--tmp", str(tmp_path)]
    code = main(argv, console=console)

    printed = console.export_text()
    assert code == 0, printed
    assert "API: GraphQL over HTTP vs the plane directly" in printed
    (section,) = json.loads(output.read_text())["sections"].values()
    ratios = {row["operation"]: row["ratio"] for row in section["rows"]}
    for name in ("artifact(id)", "lineage depth 3"):
        figures = section["data"][name]
        assert figures["api"]["count"] == figures["plane"]["count"] == figures["requests"] > 0
        for side in ("api", "plane"):
            assert 0 < figures[side]["p50_s"] <= figures[side]["p99_s"]
        # Each printed ratio is the API's percentile over the plane's, from this run.
        assert ratios[f"{name}: p50"] == pytest.approx(figures["api"]["p50_s"] / figures["plane"]["p50_s"])
        assert ratios[f"{name}: p99"] == pytest.approx(figures["api"]["p99_s"] / figures["plane"]["p99_s"])


def test_quick_policy_bench_compares_the_engine_with_direct_regopy(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    console = Console(file=io.StringIO(), record=True, width=160)

    code = main(
        ["--only", "policy", "--quick", "--output", str(output), "--tmp", str(tmp_path)], console=console
    )

    printed = console.export_text()
    assert code == 0, printed
    assert "Policy decisions: RegoPolicyEngine vs direct regopy" in printed
    assert "direct regopy" in printed
    sections = json.loads(output.read_text())["sections"]
    data = next(s for title, s in sections.items() if title.startswith("Policy decisions"))["data"]
    for kind in ("distinct", "repeated"):
        for label in ("single", "batch_100"):
            figures = data[f"{kind}_{label}"]
            assert figures["checked"] > 0
            assert figures["agree"] == figures["checked"]  # both paths decided the same work alike
            assert sum(figures["engine_s"]) > 0
            assert sum(figures["regopy_s"]) > 0
    # Distinct requests are each evaluated; repeated ones are answered from the cache.
    distinct = sum(data[f"distinct_{label}"]["checked"] for label in ("single", "batch_100"))
    assert distinct <= data["engine_evaluations"] < distinct + 2 * data["rounds"] * 2
    # The audit section re-checked every stored artifact (read and create as its realm: all allowed).
    audit = next(s for title, s in sections.items() if title.startswith("Policy audit"))["data"]
    assert audit["scanned"] == audit["artifacts"] > 0
    assert audit["decisions"] == 2 * audit["artifacts"]
    assert audit["violations"] == 0
    expected = audit["audit_s"] / audit["artifacts"] * 1_000_000
    assert abs(audit["per_million_s"] - expected) <= 1e-9 * expected
    assert "extrapolated to 1M artifacts" in printed
    # The chain section sealed and verified every decision, and the hand-made chain ended at the same head.
    chain = next(s for title, s in sections.items() if title.startswith("Decision chain"))["data"]
    assert chain["decisions"] > 0
    assert chain["head"].startswith(f"{chain['decisions']}:")
    assert min(chain["seal_s"], chain["verify_s"], chain["raw_seal_s"], chain["raw_verify_s"]) > 0
