import os

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls we make there to
# set data up are plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def base_url(asgi_server):
    return asgi_server.url


def log_in(page, base_url: str, username: str, password: str, path: str = "/") -> None:
    page.goto(f"{base_url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
