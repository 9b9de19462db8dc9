"""The hub's own store (SQLite or PostgreSQL): the tables that the audit log, the linkage index
and the source registry keep. It holds no source data (docs/architecture.md §2)."""
