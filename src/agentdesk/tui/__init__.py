"""Textual only: the operator console. Holds service interfaces, never sockets, SQLite or HTTP."""
