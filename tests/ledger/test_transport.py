"""The keep-alive transport under web3 and under the raw RpcClient (ledger.transport): it is what
web3 sends with, it survives a node that drops idle connections, and a node that is away fails
the way web3 and the API expect (requests' ConnectionError, which web3 retries and the API
answers with 503) or, for RpcClient, as a NodeError that names the node without its URL."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import requests
from web3 import Web3

from ledger.errors import NodeError
from ledger.node import AnvilProcess, free_port, make_web3
from ledger.transport import (
    NodeUnreachable,
    RpcClient,
    RpcFailure,
    keep_alive_provider,
    log_retry,
)


class _OneShotRpc(http.server.BaseHTTPRequestHandler):
    """Answers eth_blockNumber with 0x2a, then closes the connection without saying so (as a
    node restarting or timing out an idle keep-alive connection does)."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        # Counted before answering: once the answer is out, the client may already be asserting.
        self.connections.append(id(self.connection))
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x2a"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def dropping_node() -> Iterator[str]:
    _OneShotRpc.connections.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OneShotRpc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_web3_sends_through_the_keep_alive_transport(anvil: AnvilProcess) -> None:
    w3 = make_web3(anvil.url)
    manager = w3.provider._request_session_manager  # type: ignore[attr-defined]
    assert type(manager).__name__ == "_KeepAlivePosts"
    before = w3.eth.block_number
    (node,) = manager.nodes.values()
    connection = node._local.conn
    assert w3.eth.block_number >= before and w3.eth.chain_id == 31337
    assert node._local.conn is connection, "one connection per thread, kept alive"


def test_a_connection_the_node_dropped_is_replaced_once(dropping_node: str) -> None:
    provider = keep_alive_provider(dropping_node)
    provider.exception_retry_configuration = None  # type: ignore[assignment]  # ours alone
    w3 = Web3(provider)
    assert [w3.eth.block_number for _ in range(3)] == [42, 42, 42]
    assert len(_OneShotRpc.connections) == 3


def test_a_node_that_is_away_raises_requests_connection_error() -> None:
    provider = keep_alive_provider(f"http://127.0.0.1:{free_port()}")
    # web3's own retries (5, with backoff) would only slow the test: it asks once here.
    provider.exception_retry_configuration = None  # type: ignore[assignment]
    with pytest.raises(requests.exceptions.ConnectionError):
        _ = Web3(provider).eth.block_number


def test_an_https_node_url_keeps_its_path_and_errors_never_show_it() -> None:
    """Hosted nodes put an API key in the URL's path: kept for the request, kept out of errors."""
    port = free_port()
    provider = keep_alive_provider(f"https://127.0.0.1:{port}/v3/SECRET-KEY?tag=1")
    provider.exception_retry_configuration = None  # type: ignore[assignment]
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        _ = Web3(provider).eth.block_number
    assert "SECRET-KEY" not in str(info.value) and f"https://127.0.0.1:{port}" in str(info.value)
    (node,) = provider._request_session_manager.nodes.values()  # type: ignore[attr-defined]
    assert node.path == "/v3/SECRET-KEY?tag=1"


def test_a_url_with_credentials_keeps_web3s_own_transport() -> None:
    provider = keep_alive_provider("https://user:pass@127.0.0.1:8545/")
    assert type(provider._request_session_manager).__name__ == "HTTPSessionManager"  # type: ignore[attr-defined]


def test_a_failing_loop_logs_one_line_a_round_without_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.retry")
    with caplog.at_level(logging.WARNING, logger="test.retry"):
        log_retry(logger, "relay step", 3, 1.0, NodeUnreachable("http://127.0.0.1:9: refused"))
        secret_url = "https://node.example/v3/SECRET-KEY"
        log_retry(logger, "index sync", 1, 0.5, requests.exceptions.ConnectionError(secret_url))
        log_retry(logger, "relay step", 1, 1.0, ValueError("a bug"))
        log_retry(logger, "relay step", 2, 1.0, ValueError("a bug"))
    node_away, foreign, bug, bug_again = caplog.records
    assert node_away.levelno == logging.WARNING and node_away.exc_info is None
    assert node_away.getMessage() == (
        "relay step failed (3 in a row): http://127.0.0.1:9: refused; retrying in 1.0s"
    )
    assert foreign.exc_info is None and "SECRET" not in foreign.getMessage()
    assert "unreachable (ConnectionError)" in foreign.getMessage()
    assert bug.levelno == logging.ERROR and bug.exc_info is not None
    # The same failure again, a second later: one line, no traceback.
    assert bug_again.exc_info is None
    assert bug_again.getMessage() == (
        "relay step failed (2 in a row): ValueError again; retrying in 1.0s"
    )


def test_rpc_client_batches_over_a_kept_alive_connection(anvil: AnvilProcess) -> None:
    with RpcClient(anvil.url) as client:
        head = int(client.call("eth_blockNumber"), 16)
        calls = [("eth_getBlockByNumber", [hex(n % (head + 1)), False]) for n in range(250)]
        blocks = client.batch(calls)
        connection = client._node._local.conn
        assert [int(b["number"], 16) for b in blocks] == [n % (head + 1) for n in range(250)]
        assert client.call("eth_chainId") == "0x7a69"
        assert client._node._local.conn is connection, "one connection, kept alive"


def test_rpc_client_close_closes_every_threads_connection(anvil: AnvilProcess) -> None:
    client = RpcClient(anvil.url)
    called, closed = threading.Event(), threading.Event()

    def call_then_wait() -> None:
        client.call("eth_chainId")
        called.set()
        closed.wait(10)

    elsewhere = threading.Thread(target=call_then_wait)
    elsewhere.start()
    called.wait(10)
    client.call("eth_chainId")
    opened = set(client._node._opened)
    assert len(opened) == 2, "one connection per thread"
    client.close()
    closed.set()
    elsewhere.join()
    assert all(conn.sock is None for conn in opened)
    assert client.call("eth_chainId") == "0x7a69", "a call after close opens another"
    client.close()


def test_rpc_client_reports_failed_calls_in_their_slot_or_raises(anvil: AnvilProcess) -> None:
    with RpcClient(anvil.url) as client:
        ok, failed = client.batch([("eth_chainId", []), ("no_such_method", [])], allow_errors=True)
        assert ok == "0x7a69" and isinstance(failed, RpcFailure)
        with pytest.raises(NodeError, match="no_such_method failed"):
            client.batch([("eth_chainId", []), ("no_such_method", [])])
        with pytest.raises(NodeError, match="no_such_method failed"):
            client.call("no_such_method")
        result, error = client.try_call("no_such_method")
        assert result is None and error


def test_rpc_client_replaces_a_dropped_connection_once(dropping_node: str) -> None:
    with RpcClient(dropping_node) as client:
        assert [client.call("eth_blockNumber") for _ in range(3)] == ["0x2a"] * 3
    assert len(_OneShotRpc.connections) == 3


def test_rpc_client_names_a_node_that_is_away_without_its_url() -> None:
    port = free_port()
    with (
        RpcClient(f"http://127.0.0.1:{port}/v3/SECRET-KEY", timeout=5) as client,
        pytest.raises(NodeError, match="did not answer") as info,
    ):
        client.call("eth_blockNumber")
    assert "SECRET-KEY" not in str(info.value) and f"http://127.0.0.1:{port}" in str(info.value)
    with pytest.raises(NodeError, match="not an http"):
        RpcClient("ws://127.0.0.1:8545")
