"""Uvicorn's HTTP protocol with ``TCP_NODELAY`` set on every accepted connection.

Why: a GraphQL answer is written in two pieces (headers, then body). With Nagle's algorithm on,
the second piece waits for the client's ACK of the first, and a client that delays its ACK
(Linux does, ~40 ms) turns every keep-alive request after the first into a 40 ms wait. asyncio
sets ``TCP_NODELAY`` only when the listening socket was made with ``proto=IPPROTO_TCP``; uvicorn's
``--workers`` path has at times made it without (uvicorn issue #3149: 80 ms sequential p50 with
two workers against 41 ms with one), and neither ``fd=`` sockets nor every event loop get it.
Setting it here, on the accepted socket itself, holds for every loop, worker count and socket
origin.

``serve`` passes :data:`PROTOCOL` to uvicorn as its ``http`` protocol (an import string, so
worker processes load it themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

try:  # httptools is a dependency; h11 is uvicorn's own fallback
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - only where httptools cannot be installed
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

#: What ``tppo-hub serve`` gives uvicorn as ``http=``.
PROTOCOL = "hub.server.transport:NoDelayHttpProtocol"


def set_nodelay(transport: asyncio.BaseTransport) -> bool:
    """Switch Nagle's algorithm off on a TCP transport's socket; whether it was a TCP socket."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True
    return False


class NoDelayHttpProtocol(_Base):  # type: ignore[misc,valid-type]
    """Uvicorn's fastest available HTTP/1.1 protocol, with ``TCP_NODELAY`` on each connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
