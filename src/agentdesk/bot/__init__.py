"""The desk bot service: webhook receiver, autopilot, routing and roster."""
