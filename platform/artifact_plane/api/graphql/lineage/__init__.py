"""GraphQL area: lineage graphs."""
