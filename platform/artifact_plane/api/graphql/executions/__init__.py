"""GraphQL area: executions (runs of an intent) and running intents."""
