"""The drafting engine: OpenAI-compatible adapter, offline drafter, triage and guards."""
