"""An embedded WuKongIM-compatible server (a documented subset, SQLite-backed) for demo, dev and tests."""
