"""The ledger's one JSON-RPC client: keep-alive `http.client` connections to the node, under
web3's HTTPProvider (the relay, the worker, the API) and under `RpcClient` (the audit).

Under load the relay worker talks to the node a few dozen times a second; through requests and
urllib3 each call cost more CPU than everything else it did for a batch (~40% of the worker,
profiled at 1,000 ballots/s). Here each thread keeps one `http.client` connection to the node.
Above the transport web3 keeps its own request encoding, caching, batching, and its retries,
which see the same requests exceptions as before.

The audit reads every block and receipt and recomputes every hash from the node's raw JSON:
web3's middleware and result formatting would cost more than the node's answer, so `RpcClient`
posts batches of raw JSON-RPC over the same connections.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import weakref
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import ujson
from eth_typing import URI
from web3 import HTTPProvider
from web3._utils.http_session_manager import HTTPSessionManager

from ledger.errors import NodeError

DEFAULT_TIMEOUT_S = 30.0
BATCH_SIZE = 100
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


class NodeConnection:
    """POSTs to one node over one `http.client` connection per thread, opened on first use
    and opened again, once, when the node has closed it while it was idle. Errors name the node
    by scheme, host and port only: a provider's URL path often carries an API key."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise requests.exceptions.InvalidURL(f"not an http(s) node URL ({parts.scheme!r})")
        self.where = node_name(url)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host, self._port = parts.hostname, parts.port
        self._https = parts.scheme == "https"
        self._timeout = timeout
        self._local = threading.local()
        # Every live thread's connection, for close(); a thread's goes when the thread does.
        self._opened: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    def post(self, body: bytes) -> bytes:
        for attempt in range(2):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._local.conn = self._connect()
            self._opened.add(conn)
            try:
                conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._opened.discard(conn)
                self._local.conn = None
                if reused and attempt == 0 and isinstance(exc, _STALE):
                    continue  # the node closed an idle connection (or restarted): once more
                if isinstance(exc, TimeoutError):
                    raise NodeTimeout(f"{self.where}: {exc}") from exc
                raise NodeUnreachable(f"{self.where}: {exc}") from exc
            if response.status >= 400:
                raise requests.exceptions.HTTPError(f"{self.where} answered HTTP {response.status}")
            return answer
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def close(self) -> None:
        """Close every thread's connection (a post after this opens another)."""
        for conn in list(self._opened):
            conn.close()
        self._opened.clear()

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host,
                self._port or 443,
                timeout=self._timeout,
                context=ssl.create_default_context(),
            )
        return http.client.HTTPConnection(self._host, self._port or 80, timeout=self._timeout)


class _KeepAlivePosts(HTTPSessionManager):
    """`make_post_request` (all HTTPProvider sends) through a NodeConnection."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[tuple[str, float], NodeConnection] = {}

    def make_post_request(
        self, endpoint_uri: URI, data: bytes | dict[str, Any], **kwargs: Any
    ) -> bytes:
        if not isinstance(data, bytes):
            raise TypeError("the keep-alive transport posts encoded JSON-RPC bytes only")
        key = (str(endpoint_uri), float(kwargs.get("timeout", DEFAULT_TIMEOUT_S)))
        node = self.nodes.get(key) or self.nodes.setdefault(key, NodeConnection(*key))
        return node.post(data)


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


class RpcFailure:
    """One failed call within a batch (see `RpcClient.batch(allow_errors=True)`)."""

    def __init__(self, message: str, raw: Any) -> None:
        self.message = message
        self.raw = raw

    def __repr__(self) -> str:
        return f"RpcFailure({self.message!r})"


class RpcClient:
    """Raw JSON-RPC: results as the node's JSON, batches of up to BATCH_SIZE calls a request.
    A node that does not answer, or refuses a call that must succeed, raises NodeError."""

    def __init__(self, url: str, *, timeout: float = 120.0) -> None:
        try:
            self._node = NodeConnection(url, timeout)
        except requests.exceptions.InvalidURL as exc:
            raise NodeError(str(exc)) from exc
        self._id = 0

    def close(self) -> None:
        self._node.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _post(self, body: Any) -> Any:
        try:
            return ujson.loads(self._node.post(ujson.dumps(body).encode()))
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise NodeError(
                f"node at {self._node.where} did not answer ({type(exc).__name__})"
            ) from exc

    def _request(self, method: str, params: Sequence[Any]) -> Any:
        self._id += 1
        return self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        answer = self._request(method, params)
        if "error" in answer:
            raise NodeError(f"{method} failed: {answer['error'].get('message', answer)}")
        return answer["result"]

    def try_call(self, method: str, params: Sequence[Any] = ()) -> tuple[Any, str | None]:
        """(result, None) or (None, the node's error message): for calls that may legitimately
        fail (an eth_call that reverts, a tracer the node lacks)."""
        answer = self._request(method, params)
        if "error" in answer:
            error = answer["error"]
            return None, str(error.get("message", error)) + (
                f" data={error['data']}" if error.get("data") else ""
            )
        return answer["result"], None

    def batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], *, allow_errors: bool = False
    ) -> list[Any]:
        """Results in the order of `calls`; an error in any raises unless `allow_errors`, in which
        case its slot holds an `RpcFailure`."""
        results: list[Any] = []
        for start in range(0, len(calls), BATCH_SIZE):
            chunk = calls[start : start + BATCH_SIZE]
            base = self._id + 1
            self._id += len(chunk)
            body = [
                {"jsonrpc": "2.0", "id": base + i, "method": m, "params": list(p)}
                for i, (m, p) in enumerate(chunk)
            ]
            answer = self._post(body)
            if not isinstance(answer, list):
                raise NodeError(f"node refused a batch: {answer.get('error', answer)}")
            by_id = {item.get("id"): item for item in answer}
            for i, (method, _) in enumerate(chunk):
                item = by_id.get(base + i)
                if item is None:
                    raise NodeError(f"node left {method} unanswered in a batch")
                if "error" in item:
                    if not allow_errors:
                        raise NodeError(f"{method} failed: {item['error'].get('message')}")
                    results.append(RpcFailure(str(item["error"].get("message")), item["error"]))
                else:
                    results.append(item["result"])
        return results
