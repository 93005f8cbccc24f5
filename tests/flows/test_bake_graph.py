"""A bake's graph: DOT always, SVG and PDF drawn by Graphviz where the server has it (CI installs
Debian's `graphviz`, so there these run rather than skip)."""

from __future__ import annotations

import os
import shutil

import pytest

from flows import selectors, services
from tests.flows.helpers import make_flow

# Not transactional: the bakes here are never committed, so no tick reaches a worker that other
# tests left running (it would drive the bake while the database is flushed under it).
pytestmark = pytest.mark.django_db

CHAIN = "kind: batch\ntasks:\n  - id: a\n    image: x\n    bash: 'true'\n  - id: b\n    needs: [a]\n    image: x\n" \
        "    bash: 'true'\n"


def needs_graphviz() -> None:
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Graphviz (.ci/run): `dot` should be on PATH")
        pytest.skip("Graphviz is not installed here (apt-get install graphviz)")


@pytest.fixture
def bake(bob):
    return services.bake_start(by=bob, flow=make_flow(bob, chain=CHAIN), batch="chain")


@pytest.mark.parametrize(("kind", "media_type", "starts"), [("svg", "image/svg+xml", b"<?xml"),
                                                            ("pdf", "application/pdf", b"%PDF-")])
def test_graphviz_draws_the_graph(bake, bob, client_for, kind, media_type, starts):
    needs_graphviz()
    response = client_for(bob).get(f"/api/v1/bakes/{bake.pk}/graph/", {"format": kind})
    assert response.status_code == 200 and response["Content-Type"] == media_type
    assert response.content.startswith(starts)
    assert response["Content-Disposition"] == f'attachment; filename="{bake.pk}.{kind}"'
    if kind == "svg":
        assert b">a</text>" in response.content and b"#d0d4da" in response.content  # pending tasks' fill


def test_without_graphviz_the_answer_says_so(bake, bob, client_for, monkeypatch):
    monkeypatch.setattr(selectors.shutil, "which", lambda name: None)
    response = client_for(bob).get(f"/api/v1/bakes/{bake.pk}/graph/", {"format": "pdf"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert "Graphviz is not installed on the server" in response.json()["error"]["message"]
    assert client_for(bob).get(f"/api/v1/bakes/{bake.pk}/graph/").status_code == 200  # DOT needs nothing


def test_a_failing_graphviz_is_an_error_that_says_why(bake, bob, client_for, monkeypatch, tmp_path):
    broken = tmp_path / "dot"
    broken.write_text("#!/bin/sh\necho 'Error: something went wrong' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(selectors.shutil, "which", lambda name: str(broken))
    response = client_for(bob).get(f"/api/v1/bakes/{bake.pk}/graph/", {"format": "svg"})
    assert response.status_code == 503
    assert response.json()["error"]["message"] == ("Graphviz could not draw the graph (Error: something went "
                                                   "wrong): download it as DOT")


def test_a_stranger_gets_no_graph(bake, carol, client_for):
    for kind in ("dot", "svg"):
        assert client_for(carol).get(f"/api/v1/bakes/{bake.pk}/graph/", {"format": kind}).status_code == 404


def test_an_unknown_format_is_refused(bake, bob, client_for):
    response = client_for(bob).get(f"/api/v1/bakes/{bake.pk}/graph/", {"format": "png"})
    assert response.status_code == 400 and "dot, svg or pdf" in response.json()["error"]["message"]


def test_the_bake_says_which_formats_its_graph_downloads_as(bake, bob, client_for, monkeypatch):
    monkeypatch.setattr(selectors.shutil, "which", lambda name: "/usr/bin/dot")
    assert client_for(bob).get(f"/api/v1/bakes/{bake.pk}/").json()["graph_formats"] == ["dot", "svg", "pdf"]
    monkeypatch.setattr(selectors.shutil, "which", lambda name: None)
    assert client_for(bob).get(f"/api/v1/bakes/{bake.pk}/").json()["graph_formats"] == ["dot"]
