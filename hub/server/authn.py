"""Authentication at the HTTP door: a pure ASGI middleware around the GraphQL endpoint.

:class:`hub.access.auth.Authenticator` decides who a caller is from plain header values; this
module is only the HTTP side of it (reading the headers, answering 401/403 before anything runs,
leaving the principal in the ASGI scope), so access control itself stays free of the web stack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.access.auth import PUBLIC, Authenticator, AuthError
from hub.access.policy import Principal

log = logging.getLogger("tppo_hub.auth")

#: Where the middleware leaves the authenticated principal in the ASGI scope.
PRINCIPAL_SCOPE_KEY = "tppo_hub.principal"


def error_response(error: AuthError) -> JSONResponse:
    """The GraphQL-shaped JSON error response for a refused request (RFC 6750 header on 401)."""
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tppo-hub", error="invalid_token"'
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return JSONResponse(body, status_code=error.status, headers=headers)


class AuthMiddleware:
    """A pure ASGI wrapper: authenticates HTTP requests and leaves the principal in the scope."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.authenticator.authenticate(Headers(scope=scope))
        except AuthError as exc:
            log.info("request refused before execution: %s (%s)", exc.code, exc.message)
            await error_response(exc)(scope, receive, send)
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        await self.app(scope, receive, send)


def protect(app: ASGIApp, authenticator: Authenticator) -> ASGIApp:
    """``app`` behind authentication: a bad credential gets 401 before anything runs."""
    return AuthMiddleware(app, authenticator)


def principal_of(scope: Mapping[str, Any]) -> Principal:
    """The principal the middleware authenticated; ``public`` if none ran (fail closed)."""
    found = scope.get(PRINCIPAL_SCOPE_KEY)
    return found if isinstance(found, Principal) else PUBLIC
