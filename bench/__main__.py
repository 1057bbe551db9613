"""``python -m bench``: run the benchmarks, print one table per section, save JSON."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.common import REPO, ensure_importable

QUICK = {
    "rounds": 2,
    "one": 30,
    "batched": 300,
    "batch": 100,
    "edges": 20_000,
    "samples": 6,
    "plane_samples": 6,
    "plane_budget": 4.0,
    "pg_samples": 4,
    "gcs_samples": 4,
    "gcs_big_samples": 1,
    "api_requests": 32,
    "api_concurrency": 4,
    "api_roots": 1,
    "decisions": 100,
    "audit_artifacts": 200,
    "chain_decisions": 1_000,
}
FULL = {
    "rounds": 5,
    "one": 1_000,
    "batched": 5_000,
    "batch": 500,
    "edges": 1_000_000,
    "samples": 20,
    "plane_samples": 20,
    "plane_budget": 60.0,
    "pg_samples": 10,
    "gcs_samples": 20,
    "gcs_big_samples": 5,
    "api_requests": 1_000,
    "api_concurrency": 8,
    "api_roots": 10,
    "decisions": 1_000,
    "audit_artifacts": 100_000,
    "chain_decisions": 100_000,
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small N, ~20k edges")
    parser.add_argument(
        "--only", choices=["ingest", "lineage", "postgres", "gcs", "api", "policy"], help="run one section"
    )
    parser.add_argument("--one", type=int, help="artifacts created one at a time")
    parser.add_argument("--batched", type=int, help="artifacts created with create_many")
    parser.add_argument("--batch", type=int, help="create_many batch size")
    parser.add_argument("--rounds", type=int, help="slices the plane and the ingest baselines take turns on")
    parser.add_argument("--edges", type=int, help="lineage graph size (edges)")
    parser.add_argument("--samples", type=int, help="start nodes per depth")
    parser.add_argument(
        "--plane-samples", type=int, help="of those, how many also through ScopedPlane.lineage"
    )
    parser.add_argument(
        "--plane-budget", type=float, help="seconds per depth after which ScopedPlane.lineage stops walking"
    )
    parser.add_argument("--pg-samples", type=int, help="start nodes per depth in the PostgreSQL section")
    parser.add_argument("--gcs-samples", type=int, help="1 MiB uploads and downloads in the GCS section")
    parser.add_argument("--api-requests", type=int, help="requests per operation in the API section")
    parser.add_argument("--api-concurrency", type=int, help="requests in flight in the API section")
    parser.add_argument("--api-roots", type=int, help="lineage trees the API section queries")
    parser.add_argument("--gcs-big-samples", type=int, help="64 MiB uploads and downloads in the GCS section")
    parser.add_argument("--decisions", type=int, help="policy decisions per workload and round")
    parser.add_argument("--audit-artifacts", type=int, help="stored artifacts the policy audit re-checks")
    parser.add_argument(
        "--chain-decisions", type=int, help="decisions sealed and verified in the chain section"
    )
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "latest.json")
    parser.add_argument("--tmp", type=Path, help="where the temp directories go (default: the system's)")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


async def run(args: argparse.Namespace, console: Console) -> list[Any]:
    from bench import gcs, ingest, lineage, postgres
    from bench.report import render

    sections: list[Any] = []

    def keep(section: Any) -> None:
        render(console, section)
        sections.append(section)

    with tempfile.TemporaryDirectory(prefix="ap-bench-", dir=args.tmp) as tmp:
        root = Path(tmp)
        if args.only in (None, "ingest"):
            console.print("[bold]Ingest…[/bold]")
            section = await ingest.run(
                root / "ingest",
                one=args.one,
                batched=args.batched,
                batch=args.batch,
                rounds=args.rounds,
                seed=args.seed,
            )
            keep(section)
        if args.only in (None, "lineage"):
            console.print("[bold]Lineage…[/bold]")
            section = await lineage.run(
                root / "lineage",
                edges=args.edges,
                samples=args.samples,
                plane_samples=args.plane_samples,
                plane_budget=args.plane_budget,
                seed=args.seed,
            )
            keep(section)
        if args.only in (None, "postgres"):
            try:
                with postgres.server() as url:
                    console.print("[bold]PostgreSQL…[/bold]")
                    section = await postgres.run(
                        root / "postgres",
                        url,
                        one=args.one,
                        batched=args.batched,
                        batch=args.batch,
                        rounds=args.rounds,
                        edges=args.edges,
                        samples=args.pg_samples,
                        seed=args.seed,
                    )
            except postgres.Unavailable as exc:
                console.print(f"PostgreSQL section skipped: {exc}", highlight=False, soft_wrap=True)
                if args.only == "postgres":
                    raise
            else:
                keep(section)
        if args.only in (None, "gcs"):
            try:
                with gcs.server() as url:
                    console.print("[bold]GCS…[/bold]")
                    section = await gcs.run(
                        root / "gcs",
                        url,
                        samples=args.gcs_samples,
                        big_samples=args.gcs_big_samples,
                        seed=args.seed,
                    )
            except gcs.Unavailable as exc:
                console.print(f"GCS section skipped: {exc}", highlight=False, soft_wrap=True)
                if args.only == "gcs":
                    raise
            else:
                keep(section)
        if args.only in (None, "api"):
            from bench import api

            console.print("[bold]API…[/bold]")
            section = await api.run(
                root / "api",
                requests=args.api_requests,
                concurrency=args.api_concurrency,
                roots=args.api_roots,
                rounds=args.rounds,
            )
            keep(section)
        if args.only in (None, "policy"):
            from bench import policy

            console.print("[bold]Policy…[/bold]")
            # A quick run leaves out the 1000-per-call batch (about 4 s of evaluations per round here).
            batches = (100,) if args.quick else (100, 1000)
            section = await policy.run(decisions=args.decisions, rounds=args.rounds, batches=batches)
            keep(section)
            section = await policy.run_audit(root / "audit", artifacts=args.audit_artifacts)
            keep(section)
            section = await policy.run_chain(root / "chain", decisions=args.chain_decisions)
            keep(section)
    return sections


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    """Run the benchmarks; 0 when every section completed and every check held."""
    ensure_importable()
    from bench.report import machine, machine_line, write_json

    args = parse(argv)
    console = console or Console(width=None if Console().is_terminal else 140)
    info = machine()
    console.print(machine_line(info), highlight=False, soft_wrap=True)
    from bench.gcs import Unavailable as NoGcs
    from bench.postgres import Unavailable

    try:
        sections = asyncio.run(run(args, console))
    except (Unavailable, NoGcs):
        return 1  # asked for --only postgres/gcs, and no server could be had (the reason is printed)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    write_json(args.output, info, settings, sections)
    console.print(machine_line(info), highlight=False, soft_wrap=True)
    console.print(f"Results saved to {args.output}", highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
