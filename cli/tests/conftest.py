"""Fixtures: an isolated config and environment per test; a fake server on httpx.MockTransport."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # import kiln_cli from cli/

from kiln_cli.app import App
from kiln_cli.main import cli

URL = "http://kiln.test"
TOKEN = "kiln_0123456789abcdefSECRETSECRETSECRET"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServer:
    """Routes `(METHOD, path)` to canned answers and records every request it saw."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(
        self,
        method: str,
        path: str,
        status: int = 200,
        body: Any = None,
        handler: Handler | None = None,
    ) -> FakeServer:
        if handler is None:

            def handler(request: httpx.Request) -> httpx.Response:
                if body is None:
                    return httpx.Response(status)
                return httpx.Response(status, json=body)

        self.routes[(method.upper(), path)] = handler
        return self

    def error(self, method: str, path: str, status: int, code: str, message: str) -> FakeServer:
        body = {"error": {"code": code, "message": message, "details": {}}}
        return self.on(method, path, status, body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "No route", "details": {}}})
        return route(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def last(self, method: str, path: str) -> httpx.Request:
        for request in reversed(self.requests):
            if request.method == method and request.url.path == path:
                return request
        raise AssertionError(f"no {method} {path} among {[r.url for r in self.requests]}")

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config file location and an environment without KILN_URL/KILN_TOKEN."""
    path = tmp_path / "home" / ".config" / "kiln" / "config.json"
    monkeypatch.setenv("KILN_CONFIG", str(path))
    monkeypatch.delenv("KILN_URL", raising=False)
    monkeypatch.delenv("KILN_TOKEN", raising=False)
    monkeypatch.delenv("KILN_DEBUG", raising=False)
    return path


@pytest.fixture
def logged_in(config_path: Path) -> Path:
    """A config file as `kiln login` leaves it."""
    config_path.parent.mkdir(parents=True, mode=0o700)
    config_path.write_text(json.dumps({"url": URL, "username": "alice", "token": TOKEN, "token_id": "7"}))
    config_path.chmod(0o600)
    return config_path


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


Run = Callable[..., Result]


@pytest.fixture
def run(server: FakeServer) -> Run:
    """`run(["acl", "job:x"], input=...)` -> click Result with .exit_code, .stdout, .stderr."""

    def invoke(
        args: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> Result:
        app = App(transport=transport or server.transport)
        return CliRunner().invoke(cli, list(args), obj=app, input=input, env=env, catch_exceptions=False)

    return invoke
