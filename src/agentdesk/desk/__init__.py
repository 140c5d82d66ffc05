"""The desk: desk-log schema, the state reducer, and the console's local store."""
