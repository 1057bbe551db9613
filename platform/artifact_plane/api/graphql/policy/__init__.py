"""GraphQL area: the policy decision log."""
