"""GraphQL area: artifacts (read, list, create)."""
