"""The ASGI app (:func:`artifact_plane.api.app.create_app`).

``/graphql`` (strawberry: queries, mutations, the status subscription over
websockets, GraphiQL in a browser), REST under ``/api`` (metadata, streamed
payloads with ETag and Range, the streamed multipart upload), ``/healthz``,
``/readyz`` and ``/metrics``. Bearer tokens are checked by
:mod:`artifact_plane.api.auth` (HS256 secret, RS256 via a JWKS URL).

Nothing is imported here, so the CLI can use :mod:`artifact_plane.api.auth`
without loading the GraphQL stack.
"""
