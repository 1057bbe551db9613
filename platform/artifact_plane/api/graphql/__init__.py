"""The GraphQL API: one folder per area, composed by :mod:`artifact_plane.api.graphql.schema`."""
