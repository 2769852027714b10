"""web3's HTTP provider over plain keep-alive connections.

Under load the relay worker talks to the node a few dozen times a second; through requests and
urllib3 each call cost more CPU than everything else it did for a batch (~40% of the worker,
profiled at 1,000 ballots/s). Here each thread keeps one `http.client` connection to the node.
Everything above the transport is web3's own: request encoding, caching, batching, and its
retries, which see the same requests exceptions as before.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from eth_typing import URI
from web3 import HTTPProvider
from web3._utils.http_session_manager import HTTPSessionManager

DEFAULT_TIMEOUT_S = 30.0
# What a kept-alive connection the node already closed looks like when it is used again.
_STALE = (
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
    http.client.RemoteDisconnected,
)


def node_name(url: str) -> str:
    """A node named by scheme, host and port only: what may be logged or published. A
    provider's URL often carries an API key in its path, query or user part."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.hostname is None:
        return f"{parts.scheme or 'unknown'}://?"
    port = port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


class NodeUnreachable(requests.exceptions.ConnectionError):
    """The node did not answer; the message names it by scheme, host and port only."""


class NodeTimeout(requests.exceptions.Timeout):
    """The node took longer than the timeout; named as in NodeUnreachable."""


def log_retry(
    logger: logging.Logger, what: str, failures: int, delay: float, exc: Exception
) -> None:
    """A loop's failed round, in one line (a traceback each second only buried the news).
    While the node is away the line says so; anything else carries its traceback the first
    time in a row only. Only this transport's messages are printed whole: another's (web3's
    own, for URLs with credentials) may hold the URL."""
    if isinstance(exc, NodeUnreachable | NodeTimeout):
        reason = str(exc)
    elif isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        reason = f"the node is unreachable ({type(exc).__name__})"
    elif failures == 1:
        logger.error("%s failed; retrying in %.1fs", what, delay, exc_info=exc)
        return
    else:
        reason = f"{type(exc).__name__} again"
    logger.warning("%s failed (%d in a row): %s; retrying in %.1fs", what, failures, reason, delay)


class _KeepAlivePosts(HTTPSessionManager):
    """`make_post_request` (all HTTPProvider sends) on one connection per thread."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def make_post_request(
        self, endpoint_uri: URI, data: bytes | dict[str, Any], **kwargs: Any
    ) -> bytes:
        if not isinstance(data, bytes):
            raise TypeError("the keep-alive transport posts encoded JSON-RPC bytes only")
        timeout = float(kwargs.get("timeout", DEFAULT_TIMEOUT_S))
        for attempt in range(2):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._connect(endpoint_uri, timeout)
            # Errors name the node by scheme, host and port only: a provider's URL path often
            # carries an API key, which must not reach a log.
            where = self._local.where
            try:
                conn.request("POST", self._local.path, data, {"Content-Type": "application/json"})
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if reused and attempt == 0 and isinstance(exc, _STALE):
                    continue  # the node closed an idle connection (or restarted): once more
                if isinstance(exc, TimeoutError):
                    raise NodeTimeout(f"{where}: {exc}") from exc
                raise NodeUnreachable(f"{where}: {exc}") from exc
            if response.status >= 400:
                raise requests.exceptions.HTTPError(f"{where} answered HTTP {response.status}")
            return body
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def _connect(self, endpoint_uri: URI, timeout: float) -> http.client.HTTPConnection:
        parts = urlsplit(endpoint_uri)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise requests.exceptions.InvalidURL(f"not an http(s) node URL ({parts.scheme!r})")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            port = parts.port or 443
            conn = http.client.HTTPSConnection(
                parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            port = parts.port or 80
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
        self._local.conn = conn
        self._local.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._local.where = node_name(endpoint_uri)
        return conn


def keep_alive_provider(url: str, **kwargs: Any) -> HTTPProvider:
    """An HTTPProvider (same arguments) whose requests go over keep-alive `http.client`; for a
    URL with credentials in it (user:password@host), web3's own transport, which sends them."""
    provider = HTTPProvider(url, **kwargs)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return provider
    # The provider has no public hook for its transport; web3 is pinned (requirements.lock) and
    # tests/ledger/test_transport.py fails if this attribute stops being the one it sends with.
    provider._request_session_manager = _KeepAlivePosts()
    return provider
