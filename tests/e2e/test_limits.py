"""What one connection may hold, over raw sockets against the real server (uvicorn with
api/server.py's protocol) on a free port: head limits (431), the read deadline (408), idle
connections closed, and malformed HTTP answered as JSON (400). Every refusal is the API's
JSON `{code, detail}` and closes the connection."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import LiveSystem

READ_TIMEOUT_S = 1.0
IDLE_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(live: LiveSystem) -> Iterator[tuple[str, int]]:
    """The live API restarted with short timeouts; its host and port."""
    live.stop_api()
    live.start_api(request_read_timeout_s=str(READ_TIMEOUT_S), idle_timeout_s=str(IDLE_TIMEOUT_S))
    parts = urlsplit(live.url)
    assert parts.hostname is not None and parts.port is not None
    yield parts.hostname, parts.port


def connect(server: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(server, timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


def refused_json(raw: bytes, status: int, code: str) -> None:
    got, headers, body = answer(raw)
    assert (got, body["code"]) == (status, code), raw[:500]
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert set(body) == {"code", "detail"} and body["detail"]


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send what the server may stop reading part way (it answers and closes)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def test_a_head_over_16_kb_is_refused_with_431_even_when_20_mb_are_sent(
    server: tuple[str, int],
) -> None:
    sock = connect(server)
    start = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "
    sender = threading.Thread(target=send_quietly, args=(sock, start + b"a" * 20_000_000))
    sender.start()
    raw = read_all(sock)
    sender.join(timeout=30)
    refused_json(raw, 431, "HeadersTooLarge")
    sock.close()


def test_more_than_100_headers_are_refused_with_431(server: tuple[str, int]) -> None:
    sock = connect(server)
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(101))
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    refused_json(read_all(sock), 431, "HeadersTooLarge")


def test_a_head_within_the_limits_is_served(server: tuple[str, int]) -> None:
    sock = connect(server)
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(90))
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + many + b"\r\n")
    status, _, body = answer(read_all(sock))
    assert status == 200 and body["ok"] is True


def test_a_half_sent_body_gets_408_and_the_connection_closed_within_seconds(
    server: tuple[str, int],
) -> None:
    sock = connect(server)
    started = time.monotonic()
    sock.sendall(
        b"POST /v1/texts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b'{"text": "'
    )
    raw = read_all(sock)
    took = time.monotonic() - started
    refused_json(raw, 408, "RequestTimeout")
    assert READ_TIMEOUT_S * 0.9 < took < READ_TIMEOUT_S + 3, took


def test_a_body_refused_by_its_length_and_never_sent_gets_one_answer_then_a_close(
    server: tuple[str, int],
) -> None:
    sock = connect(server)
    started = time.monotonic()
    sock.sendall(
        b"POST /v1/texts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n"
    )
    raw = read_all(sock)
    assert raw.count(b"HTTP/1.1 ") == 1, raw[:500]
    assert answer(raw)[2]["code"] == "BodyTooLarge"
    assert time.monotonic() - started < READ_TIMEOUT_S + 3


def test_a_head_sent_a_byte_at_a_time_gets_408(server: tuple[str, int]) -> None:
    sock = connect(server)
    started = time.monotonic()
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 100
    for i in range(len(request)):  # one byte every 50 ms: each arrives in time, the whole does not
        try:
            sock.sendall(request[i : i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.05)
        if time.monotonic() - started > READ_TIMEOUT_S + 3:
            break
    refused_json(read_all(sock), 408, "RequestTimeout")
    assert time.monotonic() - started < READ_TIMEOUT_S + 4


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    sock = connect(server)
    started = time.monotonic()
    assert read_all(sock) == b""
    assert time.monotonic() - started < IDLE_TIMEOUT_S + 3


def test_an_idle_kept_alive_connection_is_closed_after_its_response(
    server: tuple[str, int],
) -> None:
    sock = connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    started = time.monotonic()
    raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    assert time.monotonic() - started < IDLE_TIMEOUT_S + 3


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"POST /v1/texts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"POST /v1/texts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["no request line", "space in a header name", "two lengths", "bad chunk size"],
)
def test_malformed_http_is_answered_400_as_json(server: tuple[str, int], raw: bytes) -> None:
    sock = connect(server)
    sock.sendall(raw)
    refused_json(read_all(sock), 400, "MalformedHttp")


def test_the_server_is_healthy_after_every_limit(live: LiveSystem, server: tuple[str, int]) -> None:
    sock = connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer(read_all(sock))[0] == 200
    log = live.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
