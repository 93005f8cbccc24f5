"""Small helpers for calling the storage API from tests."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import urlencode

API = "/api/v1/storage"


def url(endpoint: str, **params: Any) -> str:
    return f"{API}/{endpoint}/" + (f"?{urlencode(params)}" if params else "")


def put(client: Any, uri: str, data: bytes, **params: Any) -> Any:
    return client.put(url("content", uri=uri, **params), data=data, content_type="application/octet-stream")


def get(client: Any, uri: str, **headers: Any) -> Any:
    return client.get(url("content", uri=uri), **headers)


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def names(client: Any, uri: str) -> list[str]:
    response = client.get(url("list", uri=uri))
    assert response.status_code == 200, response.content
    return [entry["name"] for entry in response.json()["results"]]


def unzip(data: bytes) -> dict[str, bytes | None]:
    """Archive member → bytes (``None`` for folders)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {info.filename: None if info.is_dir() else archive.read(info) for info in archive.infolist()}
