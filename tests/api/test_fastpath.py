"""The ballot fast path (api/fastpath.py): what it serves itself, what it hands to the app, and
that its acknowledgement is byte for byte what the FastAPI route renders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api import fastpath
from api.fastpath import BallotFastPath
from api.schemas import ReceiptOut
from ledger.errors import InvalidMessage

RECEIPT = ReceiptOut(
    id="0x" + "ab" * 32,
    kind="ballot",
    status="queued",
    signer="0x" + "Cd" * 20,
    tx_hash=None,
    block=None,
    detail="é and 0.1 + 0.2",  # non-ASCII and digits: how each renderer escapes and formats
    accepted_at=1764022443.1234567,
    updated_at=1e16,
)
BALLOT = (
    b'{"proposalId": 1, "voter": "0x'
    + b"11" * 20
    + b'", "option": 2, "signature": "0x'
    + b"22" * 65
    + b'"}'
)
LIMIT = 4096


class Inner:
    """The app behind the fast path: records each request that reaches it, answers 299."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.seen.append((scope["method"], scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


class WithState:
    """What Starlette does before any middleware: `scope["app"]` carries the services."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = SimpleNamespace(services=object())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "app": self}, receive, send)


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """`accept` as the relay would answer a good ballot; the payloads it was given."""
    calls: list[dict[str, Any]] = []

    async def accept(services: object, kind: str, payload: dict[str, Any]) -> ReceiptOut:
        assert kind == "ballot"
        calls.append(payload)
        return RECEIPT

    monkeypatch.setattr(fastpath, "accept", accept)
    return calls


def request(inner: Inner, method: str, path: str, content: Any) -> httpx.Response:
    app = WithState(BallotFastPath(inner, max_bytes=LIMIT))

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(
                method, path, content=content, headers={"content-type": "application/json"}
            )

    return asyncio.run(go())


def test_accepted_ballot_is_answered_as_the_fastapi_route_renders_it(
    accepted: list[dict[str, Any]],
) -> None:
    inner = Inner()
    fast = request(inner, "POST", "/v1/ballots", BALLOT)
    reference = FastAPI()

    @reference.post("/v1/ballots", status_code=202, response_model=ReceiptOut)
    async def route() -> ReceiptOut:
        return RECEIPT

    async def routed() -> httpx.Response:
        transport = httpx.ASGITransport(app=reference)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/v1/ballots")

    expected = asyncio.run(routed())
    assert inner.seen == []
    assert (fast.status_code, fast.content) == (expected.status_code, expected.content)
    assert fast.headers["content-type"] == expected.headers["content-type"]
    assert fast.headers["content-length"] == expected.headers["content-length"]
    assert accepted == [
        {"proposalId": 1, "voter": "0x" + "11" * 20, "option": 2, "signature": "0x" + "22" * 65}
    ]


def test_refused_ballot_reaches_the_app_with_its_body_intact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(services: object, kind: str, payload: dict[str, Any]) -> ReceiptOut:
        raise InvalidMessage("AlreadyVoted", "voted before")

    monkeypatch.setattr(fastpath, "accept", refuse)
    inner = Inner()
    answer = request(inner, "POST", "/v1/ballots", BALLOT)
    assert (answer.status_code, answer.content) == (299, b"inner")
    assert inner.seen == [("POST", "/v1/ballots", BALLOT)]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"proposalId": 1}', b"[]", BALLOT.replace(b'"option": 2', b'"option": 256')],
    ids=["malformed JSON", "missing fields", "not an object", "option out of range"],
)
def test_bodies_the_schema_refuses_go_to_the_app_untried(
    accepted: list[dict[str, Any]], body: bytes
) -> None:
    inner = Inner()
    assert request(inner, "POST", "/v1/ballots", body).status_code == 299
    assert inner.seen == [("POST", "/v1/ballots", body)]
    assert accepted == []


def test_a_body_without_length_or_over_the_limit_is_left_to_the_app(
    accepted: list[dict[str, Any]],
) -> None:
    async def chunked() -> AsyncIterator[bytes]:
        yield BALLOT

    inner = Inner()
    assert request(inner, "POST", "/v1/ballots", chunked()).status_code == 299
    big = BALLOT[:-1] + b', "pad": "' + b"x" * LIMIT + b'"}'
    assert request(inner, "POST", "/v1/ballots", big).status_code == 299
    assert inner.seen == [("POST", "/v1/ballots", BALLOT), ("POST", "/v1/ballots", big)]
    assert accepted == []


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/ballots"), ("POST", "/v1/forward")])
def test_other_routes_pass_through(accepted: list[dict[str, Any]], method: str, path: str) -> None:
    inner = Inner()
    assert request(inner, method, path, BALLOT).status_code == 299
    assert inner.seen == [(method, path, BALLOT)]
    assert accepted == []
