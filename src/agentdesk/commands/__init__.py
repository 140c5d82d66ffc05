"""One module per `agentdesk` sub-command. Each exposes `main(argv: list[str]) -> int`."""
