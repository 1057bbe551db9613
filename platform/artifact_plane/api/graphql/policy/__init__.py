"""GraphQL area: the policy decision log and the policy audit."""
