"""Per-run state shared by every verb: options, settings, output, and how to get a client.

The root group creates an `App` (or reuses the one passed in as click's `obj`, which is how tests
inject an `httpx.MockTransport`), and verbs receive it with `@pass_app`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import click
import httpx

from kiln_cli.client import KilnClient
from kiln_cli.config import ConfigFile, Settings, config_path, resolve
from kiln_cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    json: bool = False
    url_option: str | None = None
    transport: httpx.BaseTransport | None = None  # tests inject httpx.MockTransport here
    env: Mapping[str, str] | None = None  # None: os.environ at the time of use
    _warned: bool = field(default=False, repr=False)

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self.env is None else self.env

    @property
    def out(self) -> Output:
        return Output(json_mode=self.json)

    @cached_property
    def config_file(self) -> ConfigFile:
        file = ConfigFile.load(config_path(self.environ))
        if file.token and file.insecure and not self._warned:
            self._warned = True
            self.out.warn(f"{file.path} is readable by others; run: chmod 600 {file.path}")
        return file

    def reload_config(self) -> ConfigFile:
        self.__dict__.pop("config_file", None)
        return self.config_file

    @property
    def settings(self) -> Settings:
        return resolve(url_option=self.url_option, env=self.environ, file=self.config_file)

    def client(self, *, auth: bool = True) -> KilnClient:
        """A client for the effective server; with `auth`, fail early (exit 3) without a token."""
        settings = self.settings
        url = settings.require_url()
        token = settings.require_token() if auth else settings.token
        return self.client_for(url, token)

    def client_for(self, url: str, token: str | None = None) -> KilnClient:
        return KilnClient(url, token, transport=self.transport)


pass_app = click.make_pass_decorator(App, ensure=True)


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(App).json = True


def json_option(f: F) -> F:
    """`--json` on a verb, same as the global `kiln --json VERB`."""
    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print machine-readable JSON instead of tables.",
    )(f)
