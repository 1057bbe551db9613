"""The ASGI app (:func:`artifact_plane.api.app.create_app`): ``/graphql``, REST under ``/api``, probes.

Nothing is imported here, so the CLI can use :mod:`artifact_plane.api.auth`
without loading the GraphQL stack.
"""
