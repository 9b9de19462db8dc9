"""RS256 public keys from a JWKS (``[auth].jwks``): PyJWT's ``PyJWKClient``, plus a local file.

PyJWT's client does the caching: the key set is kept for ``jwks_refresh_seconds`` and fetched
again after that; a token naming an unknown ``kid`` (the identity provider rotated its keys)
forces one fetch, at most once per ``jwks_refresh_seconds`` (its cool-down), so tokens with
made-up key ids cannot make the hub hammer the identity provider. Three things are added here:

- a JWKS *file* (the client only fetches http(s) URLs): :meth:`JwksClient.fetch_data` reads it;
- the last good key set is kept when a refresh fails, so a short outage of the identity provider
  does not lock every caller out (PyJWT's cache would expire and every token would fail);
- the blocking fetch runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError, PyJWKClientError, PyJWKSet
from jwt.exceptions import PyJWKSetError

log = logging.getLogger("tppo_hub.auth")

#: Seconds one fetch of a JWKS URL may take.
FETCH_TIMEOUT_SECONDS = 5.0
_MAX_FILE_BYTES = 1_000_000


class JwksUnavailable(Exception):
    """No key set could be fetched and none was fetched before (the message is safe to show)."""


class JwksClient(PyJWKClient):
    """``PyJWKClient`` for a URL or a file path, keeping its last good key set on failure."""

    def __init__(self, location: str, refresh_seconds: float) -> None:
        self.location = location
        self.path = None if location.startswith(("http://", "https://")) else Path(location)
        super().__init__(
            # A file is never fetched over the network (fetch_data reads it); the client's
            # constructor only accepts http(s), so it is given a reserved name that never resolves.
            location if self.path is None else "https://jwks-file.invalid/",
            lifespan=max(refresh_seconds, 1.0),
            cooldown_duration=refresh_seconds,
            timeout=FETCH_TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
        )
        self._last_good: PyJWKSet | None = None

    def fetch_data(self) -> Any:
        """The JWKS document: fetched by PyJWT from a URL, or read from the file."""
        if self.path is None:
            return super().fetch_data()
        try:
            raw = self.path.read_bytes()[:_MAX_FILE_BYTES]
        except OSError as exc:
            raise PyJWKClientConnectionError(f"cannot read {self.path} ({type(exc).__name__})") from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise PyJWKClientError(f"{self.path} is not JSON") from None
        # As PyJWT does after a fetch: a successful read starts the cool-down of forced refreshes.
        self._last_successful_fetch = time.monotonic()
        return data

    def get_jwk_set(self, refresh: bool = False) -> PyJWKSet:
        """The key set; when a (re)fetch fails, the last good one, kept for another period."""
        try:
            found = super().get_jwk_set(refresh)
        except (PyJWKClientError, PyJWKSetError) as exc:
            if self._last_good is None:
                raise
            log.warning(
                "JWKS %s could not be refreshed (%s): keeping the %d key(s) fetched before",
                self.location,
                exc,
                len(self._last_good.keys),
            )
            if self.jwk_set_cache is not None:
                self.jwk_set_cache.put(self._last_good)
            return self._last_good
        self._last_good = found
        return found


class KeySet:
    """The RS256 keys tokens may be signed with, looked up by ``kid`` without blocking the loop."""

    def __init__(self, location: str, refresh_seconds: float) -> None:
        self.location = location
        self.client = JwksClient(location, refresh_seconds)

    async def load(self) -> bool:
        """Fetch the key set now (at start-up); on failure log why and go on (tokens then wait)."""
        try:
            found = await asyncio.to_thread(self.client.get_jwk_set)
        except (PyJWKClientError, PyJWKSetError) as exc:
            log.error("JWKS %s could not be loaded: %s", self.location, exc)
            return False
        log.info("JWKS %s: %d key(s)", self.location, len(_rs256(found.keys)))
        return True

    async def key(self, kid: str | None) -> Any | None:
        """The public key of ``kid`` (None: unknown); :class:`JwksUnavailable` if none can be had.

        A token without ``kid`` is accepted only when the set holds exactly one RS256 key.
        """
        try:
            if kid is None:
                only = _rs256((await asyncio.to_thread(self.client.get_jwk_set)).keys)
                return only[0].key if len(only) == 1 else None
            found = await asyncio.to_thread(self.client.get_signing_key, kid)
        except PyJWKClientConnectionError:
            raise JwksUnavailable(
                "the identity provider's signing keys (JWKS) cannot be fetched; try again later"
            ) from None
        except (PyJWKClientError, PyJWKSetError):
            return None  # no such key, even after a refresh
        return found.key if _rs256([found]) else None


def _rs256(keys: list[PyJWK]) -> list[PyJWK]:
    """The RSA signature keys usable for RS256 (an ``enc`` key or another algorithm is not)."""
    return [
        k
        for k in keys
        if k.key_type == "RSA" and k.algorithm_name == "RS256" and k.public_key_use in ("sig", None)
    ]
