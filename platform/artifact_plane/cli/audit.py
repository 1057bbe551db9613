"""``artifact-plane audit``: the governance commands, one module each.

``audit run`` re-checks stored artifacts against the policy in force,
``audit verify`` checks the decision log's hash chain, ``audit seal`` links
new decisions into it.
"""

from __future__ import annotations

import typer

from artifact_plane.cli import audit_run, audit_seal, audit_verify

app = typer.Typer(
    help="Governance: `audit run` (policy audit), `audit verify` and `audit seal` (the decision chain).",
    no_args_is_help=True,
)
app.command("run")(audit_run.run)
app.command("verify")(audit_verify.verify)
app.command("seal")(audit_seal.seal)
