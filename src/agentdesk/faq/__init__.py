"""The offline FAQ cache: SQLite FTS5 store, bilingual search, importers and HTTP sync."""
