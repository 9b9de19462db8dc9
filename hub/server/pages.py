"""The browser pages the hub serves itself: GraphiQL and the Task Force dashboard.

Everything a page needs — its own scripts and styles and the vendored libraries (GraphiQL,
React, the GraphiQL explorer, Chart.js; see ``static/vendor/LICENSES.md``) — is in
``static/`` and served from the hub's own origin, so the pages work on an intranet with no
way out. A Content-Security-Policy header makes the browser refuse anything else.

Pages are plain HTML templates (``templates/``) with three placeholders, filled per request so that the hub
works behind a reverse proxy that mounts it under a path prefix (ASGI ``root_path``):
``{{static}}`` (URL of the static folder), ``{{graphql}}`` (URL of the GraphQL endpoint) and,
for GraphiQL, ``{{examples}}`` (the example operations, opened as tabs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_PATH = "/static"
GRAPHQL_PATH = "/graphql"

#: Nothing but the hub's own origin: scripts, styles, fonts (inlined as data: URLs by GraphiQL),
#: and GraphQL requests. Inline styles are allowed because React and Chart.js set them.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
        "form-action 'self'",
    )
)


@cache
def _template(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def _page(request: Request, template: str, **values: str) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    html = _template(template)
    for key, value in {"static": root + STATIC_PATH, "graphql": root + GRAPHQL_PATH, **values}.items():
        html = html.replace("{{" + key + "}}", value)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache",
        },
    )


def graphiql_page(request: Request, examples: Sequence[str]) -> HTMLResponse:
    """GraphiQL with the explorer plugin and one tab per example operation."""
    tabs = json.dumps([{"query": query} for query in examples], ensure_ascii=False)
    # JSON inside <script type="application/json">: only "</" could end the element early.
    return _page(request, "graphiql.html", examples=tabs.replace("</", "<\\/"))


def dashboard_page(request: Request) -> HTMLResponse:
    """The Task Force dashboard: charts drawn from the public GraphQL API."""
    return _page(request, "dashboard.html")


def static_files() -> StaticFiles:
    """The page assets and vendored libraries (ETag and Last-Modified, so browsers revalidate)."""
    return StaticFiles(directory=STATIC_DIR, follow_symlink=False)
