"""Kiln command-line client: talks HTTP/WebSocket to a Kiln server, never imports it."""

__version__ = "0.1.0"
