"""The hub's browser pages (GraphiQL, the dashboard) need nothing from another host.

Checked over HTTP in-process: each page names no off-host URL, every asset it references is
served by the hub itself, the Content-Security-Policy allows only the hub's own origin, and
GraphiQL opens every example operation as a tab. ``tests/test_browser.py`` checks the same
in a real browser (no request leaves the host).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from graphql import parse

from hub.engine.config import load_config
from hub.server import examples
from hub.server.app import create_app

STATIC = Path(__file__).resolve().parent.parent / "hub" / "server" / "static"
#: Any absolute or protocol-relative URL: a page must name none (the SVG namespace aside).
OFF_HOST = re.compile(r"(?:https?:|wss?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class _Refs(HTMLParser):
    """Every src/href of a page, and the JSON in <script type="application/json">."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.json_blocks: list[str] = []
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]
        self._in_json = tag == "script" and values.get("type") == "application/json"

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json_blocks.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_json = False


# `client`: the demo hub over HTTP, from tests/conftest.py.


PAGES = {"graphiql": "/graphql", "dashboard": "/"}


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_page_names_no_off_host_url_and_every_asset_is_served(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(PAGES[page], headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert OFF_HOST.findall(response.text) == []
    assert "{{" not in response.text  # every placeholder filled
    parser = _Refs()
    parser.feed(response.text)
    assert parser.refs, "the page references its assets"
    for ref in parser.refs:
        assert ref.startswith("/"), ref
        asset = await client.get(ref)
        assert asset.status_code == 200, ref


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_content_security_policy_allows_only_the_hub(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(PAGES[page], headers={"Accept": "text/html"})
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert policy["connect-src"] == "'self'"


def test_the_pages_own_scripts_and_styles_name_no_off_host_url() -> None:
    own = [p for p in STATIC.rglob("*") if p.suffix in {".js", ".css", ".html", ".graphql"}]
    own = [p for p in own if "vendor" not in p.relative_to(STATIC).parts]
    assert len(own) >= 5
    for path in own:
        assert OFF_HOST.findall(path.read_text(encoding="utf-8")) == [], path


async def test_graphiql_opens_every_example_as_a_tab(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    parser = _Refs()
    parser.feed(response.text)
    tabs = json.loads("".join(parser.json_blocks))
    assert [tab["query"] for tab in tabs] == list(examples.GRAPHIQL_TABS)
    for tab in tabs:
        operations = [d for d in parse(tab["query"]).definitions if d.kind == "operation_definition"]
        assert operations and all(op.name is not None for op in operations)


async def test_pages_honour_a_path_prefix(demo_dir: Path) -> None:
    """Behind a reverse proxy at /tppo, asset and API URLs carry the prefix."""
    app = create_app(load_config(demo_dir / "hub.toml"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, root_path="/tppo")
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            page = (await http.get("/")).text
    assert 'data-graphql="/tppo/graphql"' in page
    assert 'src="/tppo/static/dashboard/dashboard.js"' in page
