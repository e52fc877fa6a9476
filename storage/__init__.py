"""Store implementations: SQLite (embedded default), in-memory, and Cosmos DB."""
