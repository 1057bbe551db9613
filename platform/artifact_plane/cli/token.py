"""``artifact-plane token``: mint a development HS256 token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from artifact_plane.api.auth import mint_token, signing_secret
from artifact_plane.cli._common import (
    RealmOption,
    RolesOption,
    TenantOption,
    make_subject,
    out,
    plane_errors,
    settings_of,
)


def token(
    ctx: typer.Context,
    subject_id: Annotated[str, typer.Option("--subject", help="The token's subject (sub claim).")] = "dev",
    tenant: TenantOption = "default",
    roles: RolesOption = "admin",
    realm: RealmOption = None,
    ttl: Annotated[int, typer.Option("--ttl", min=1, metavar="SECONDS", help="Lifetime of the token.")] = 12
    * 3600,
) -> None:
    """Print a bearer token signed with AP_JWT_SECRET (or the dev secret under AP_DATA_DIR)."""
    with plane_errors():
        subject = make_subject(tenant, subject_id, roles, realm)
        secret = signing_secret(settings_of(ctx))
    out().print(mint_token(secret.value, subject, ttl=timedelta(seconds=ttl)), markup=False, soft_wrap=True)
