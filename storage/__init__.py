"""SQLite persistence (aiosqlite, WAL): schema, migrations and repositories."""
