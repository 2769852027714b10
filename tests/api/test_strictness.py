"""One behaviour on both ballot paths: the fast path (api/fastpath.py) and the FastAPI route
answer the same body and content type with the same status and code; integers are strict in
every request schema; a body must be declared JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import fastpath
from api.fastpath import BallotFastPath
from api.main import create_app
from api.routers import ballots
from api.schemas import (
    BallotIn,
    ForwardRequestIn,
    PendingServiceIn,
    ReceiptOut,
    SignedServiceIn,
)
from ledger.config import Settings

RECEIPT = ReceiptOut(
    id="0x" + "ab" * 32,
    kind="ballot",
    status="queued",
    signer="0x" + "11" * 20,
    tx_hash=None,
    block=None,
    detail=None,
    accepted_at=1.0,
    updated_at=1.0,
)
GOOD = {"proposalId": 1, "voter": "0x" + "11" * 20, "option": 2, "signature": "0x" + "22" * 65}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _body(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


# (body, content type or None for none at all, the status and code both paths must answer)
CASES: dict[str, tuple[bytes, str | None, int, str | None]] = {
    "json": (_body(), JSON, 202, None),
    "json with charset": (_body(), "application/json; charset=utf-8", 202, None),
    "json upper case": (_body(), "Application/JSON;Charset=UTF-8", 202, None),
    "text/plain": (_body(), "text/plain", 415, "UnsupportedMediaType"),
    "form-encoded": (b"proposalId=1&option=2", FORM, 415, "UnsupportedMediaType"),
    "form-encoded JSON": (_body(), FORM, 415, "UnsupportedMediaType"),
    "no content type": (_body(), None, 415, "UnsupportedMediaType"),
    "json in latin-1": (_body(), "application/json; charset=latin-1", 415, "UnsupportedMediaType"),
    "json-ish subtype": (_body(), "application/json-patch+json", 415, "UnsupportedMediaType"),
    "id as string": (_body(proposalId="1"), JSON, 422, "InvalidRequest"),
    "id as float": (_body(proposalId=1.0), JSON, 422, "InvalidRequest"),
    "id as bool": (_body(proposalId=True), JSON, 422, "InvalidRequest"),
    "option as string": (_body(option="2"), JSON, 422, "InvalidRequest"),
    "option as float": (_body(option=2.0), JSON, 422, "InvalidRequest"),
    "option as bool": (_body(option=True), JSON, 422, "InvalidRequest"),
    "id as a big integer": (_body(proposalId=2**255), JSON, 202, None),
    "id past uint256": (_body(proposalId=2**256), JSON, 422, "InvalidRequest"),
    "not json": (b"{proposalId: 1", JSON, 422, "InvalidRequest"),
}


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[TestClient, TestClient]]:
    """The whole app (fast path in front), and the same app with its fast path taken out."""
    patch = pytest.MonkeyPatch()

    async def accept(services: object, kind: str, payload: dict[str, Any]) -> ReceiptOut:
        BallotIn.model_validate(payload)  # what reaches `accept` was validated by the schema
        return RECEIPT

    patch.setattr(fastpath, "accept", accept)
    patch.setattr(ballots, "accept", accept)
    services: Any = SimpleNamespace(decoder=None)
    fast = create_app(Settings(), services=services)
    route = create_app(Settings(), services=services)
    route.user_middleware = [m for m in route.user_middleware if m.cls is not BallotFastPath]
    assert len(route.user_middleware) == len(fast.user_middleware) - 1
    with TestClient(fast) as f, TestClient(route) as r:
        yield f, r
    patch.undo()


def _post(client: TestClient, body: bytes, content_type: str | None) -> tuple[int, str | None]:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/v1/ballots", content=body, headers=headers)
    if response.status_code == 202:
        return 202, None
    answer = response.json()
    assert set(answer) == {"code", "detail"} and answer["detail"], answer
    return response.status_code, answer["code"]


@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_and_route_answer_every_body_and_content_type_alike(
    apps: tuple[TestClient, TestClient], case: str
) -> None:
    body, content_type, status, code = CASES[case]
    fast, route = apps
    assert _post(fast, body, content_type) == (status, code)
    assert _post(route, body, content_type) == (status, code)


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (ForwardRequestIn, "nonce"),
        (ForwardRequestIn, "gas"),
        (ForwardRequestIn, "deadline"),
        (ForwardRequestIn, "value"),
        (SignedServiceIn, "communityId"),
        (PendingServiceIn, "communityId"),
    ],
)
@pytest.mark.parametrize("value", ["30000", 30000.0, True], ids=["string", "float", "bool"])
def test_integers_in_request_schemas_are_strict(schema: Any, field: str, value: Any) -> None:
    properties = schema.model_json_schema(by_alias=True)["properties"]
    assert properties[field].get("type") == "integer"
    adapter = schema.__pydantic_validator__
    with pytest.raises(ValueError, match="valid integer"):
        adapter.validate_python({field: value})


def test_the_schema_still_says_integer_for_every_strict_field(apps: Any) -> None:
    app: FastAPI = apps[0].app  # type: ignore[assignment]
    schema = app.openapi()
    ballot = schema["components"]["schemas"]["BallotIn"]["properties"]
    assert ballot["proposalId"]["type"] == ballot["option"]["type"] == "integer"
    body_ops = [op for ops in schema["paths"].values() for op in ops.values()
                if "requestBody" in op]  # fmt: skip
    assert body_ops and all("415" in op["responses"] for op in body_ops)
