"""Join requests through the real API, chain and signatures: only a request signed by its
resident for this community is stored, once; only the community's registrar lists them; a
request leaves the list when its resident is on the published roll."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.signing.joins import JoinRequest, read_code, short_code, sign_join, verify_join
from tests.e2e.conftest import LiveSystem, new_accounts
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)

REGISTRAR = Web3.keccak(text="REGISTRAR")


@dataclass
class Office:
    id: int
    other: int
    admin: LocalAccount
    registrar: LocalAccount


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    """A chain and the API server on it (tests/e2e/conftest.py's fixture)."""
    system: LiveSystem = request.getfixturevalue("_live")
    return system


@pytest.fixture(scope="module")
def office(live: LiveSystem) -> Iterator[Office]:
    admin, registrar = new_accounts(2)
    registry = live.client.contracts["registry"]
    for text in ("joins", "other"):
        live.client.act(admin, registry.functions.createCommunity(Web3.keccak(text=text)))
    count: int = registry.functions.communityCount().call()
    done = live.client.forward(
        admin, registry.functions.grantRole(count - 1, REGISTRAR, registrar.address)
    )
    live.client.wait_indexed(live.client.wait(done["id"])["block"])
    yield Office(count - 1, count, admin, registrar)


def signed(
    live: LiveSystem, account: LocalAccount, community: int, **change: Any
) -> dict[str, Any]:
    request = sign_join(
        account,
        community,
        int(time.time()),
        live.deployment.chain_id,
        live.deployment.registry.address,
    )
    return {**request.to_json(), **change}


def post(live: LiveSystem, community: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{live.url}/v1/communities/{community}/joins", json=body)


def login(live: LiveSystem, account: LocalAccount) -> dict[str, str]:
    challenge = live.client.post("/v1/auth/challenge", {"address": account.address})
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key)
    answer = live.client.post(
        "/v1/auth/login",
        {"nonce": challenge["nonce"], "signature": "0x" + signature.signature.hex()},
    )
    return {"Authorization": "Bearer " + answer["token"]}


def test_a_signed_request_is_stored_and_found_by_its_code(live: LiveSystem, office: Office) -> None:
    resident = Account.create()
    body = signed(live, resident, office.id)
    answer = post(live, office.id, body)
    assert answer.status_code == 200, answer.text
    stored = answer.json()
    request = JoinRequest.from_json(body)
    digest = verify_join(request, live.deployment.chain_id, live.deployment.registry.address)
    assert stored["digest"] == "0x" + digest.hex()
    assert stored["code"] == short_code(digest) and stored["status"] == "pending"
    typed = stored["code"].lower().replace("-", "")
    found = httpx.get(f"{live.url}/v1/communities/{office.id}/joins/{typed}")
    assert found.status_code == 200 and found.json()["resident"] == resident.address
    assert read_code(typed) == stored["code"]


def test_a_request_signed_by_another_key_is_refused(live: LiveSystem, office: Office) -> None:
    resident, impostor = Account.create(), Account.create()
    body = signed(live, impostor, office.id, resident=resident.address)
    answer = post(live, office.id, body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "BadSignature"
    assert f"not by the resident {resident.address}" in answer.json()["detail"]


def test_a_request_for_another_community_is_refused(live: LiveSystem, office: Office) -> None:
    resident = Account.create()
    sent_elsewhere = post(live, office.id, signed(live, resident, office.other))
    assert sent_elsewhere.status_code == 422
    assert sent_elsewhere.json()["code"] == "CommunityMismatch"
    # The community named in the body, but not the one signed: the signature does not hold.
    relabelled = signed(live, resident, office.other, communityId=office.id)
    answer = post(live, office.id, relabelled)
    assert answer.status_code == 422 and answer.json()["code"] == "BadSignature"


def test_a_request_for_another_chain_or_registry_is_refused(
    live: LiveSystem, office: Office
) -> None:
    resident = Account.create()
    request = sign_join(resident, office.id, int(time.time()), 1, live.deployment.registry.address)
    answer = post(live, office.id, request.to_json())
    assert answer.status_code == 422 and answer.json()["code"] == "BadSignature"
    elsewhere = sign_join(
        resident, office.id, int(time.time()), live.deployment.chain_id, "0x" + "42" * 20
    )
    answer = post(live, office.id, elsewhere.to_json())
    assert answer.status_code == 422 and answer.json()["code"] == "BadSignature"


def test_sending_the_same_request_again_returns_what_was_stored(
    live: LiveSystem,
    office: Office,
) -> None:
    body = signed(live, Account.create(), office.id)
    first = post(live, office.id, body).json()
    again = post(live, office.id, body)
    assert again.status_code == 200 and again.json() == first


def test_a_request_dated_ahead_of_now_is_refused(live: LiveSystem, office: Office) -> None:
    resident = Account.create()
    request = sign_join(
        resident,
        office.id,
        int(time.time()) + 3600,
        live.deployment.chain_id,
        live.deployment.registry.address,
    )
    answer = post(live, office.id, request.to_json())
    assert answer.status_code == 422 and answer.json()["code"] == "IssuedInFuture"


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0x1234"},
        {"resident": "not an address"},
        {"communityId": "1"},
        {"issuedAt": 2**64},
        {"extra": 1},
    ],
    ids=["short-signature", "bad-address", "id-as-string", "issued-at-overflow", "unknown-field"],
)
def test_a_malformed_body_is_refused_with_422(
    live: LiveSystem,
    office: Office,
    change: dict[str, Any],
) -> None:
    answer = post(live, office.id, signed(live, Account.create(), office.id, **change))
    assert answer.status_code == 422
    assert answer.json()["code"] == "InvalidRequest"


def test_a_malformed_code_is_refused_and_an_unknown_one_not_found(
    live: LiveSystem,
    office: Office,
) -> None:
    base = f"{live.url}/v1/communities/{office.id}/joins"
    assert httpx.get(f"{base}/UUUU-UUUU").json()["code"] == "MalformedJoinCode"
    missing = httpx.get(f"{base}/0000-0000")
    assert missing.status_code == 404 and missing.json()["code"] == "UnknownJoin"


def test_listing_needs_a_login(live: LiveSystem, office: Office) -> None:
    answer = httpx.get(f"{live.url}/v1/communities/{office.id}/joins")
    assert answer.status_code == 401 and answer.json()["code"] == "NotSignedIn"


def test_listing_by_anyone_but_the_registrar_is_forbidden(
    live: LiveSystem,
    office: Office,
) -> None:
    for who in (office.admin, Account.create()):
        answer = httpx.get(f"{live.url}/v1/communities/{office.id}/joins", headers=login(live, who))
        assert answer.status_code == 403 and answer.json()["code"] == "MissingRole"


def test_a_request_leaves_the_list_once_its_resident_is_on_the_published_roll(
    live: LiveSystem,
    office: Office,
) -> None:
    resident = Account.create()
    body = signed(live, resident, office.id)
    code = post(live, office.id, body).json()["code"]
    headers = login(live, office.registrar)
    listed = f"{live.url}/v1/communities/{office.id}/joins"

    def standing() -> tuple[str, bool]:
        found = httpx.get(f"{listed}/{code}").json()["status"]
        pending = httpx.get(listed, headers=headers, params={"limit": 1000}).json()["items"]
        return found, any(j["resident"] == resident.address for j in pending)

    assert standing() == ("pending", True)
    registry = live.client.contracts["registry"]
    staged = live.client.forward(
        office.registrar, registry.functions.updateRoll(office.id, [resident.address], [], False)
    )
    live.client.wait_indexed(live.client.wait(staged["id"])["block"])
    assert standing() == ("staged", True)
    published = live.client.forward(office.registrar, registry.functions.publishRoll(office.id))
    live.client.wait_indexed(live.client.wait(published["id"])["block"])
    assert standing() == ("onRoll", False)


def test_new_requests_beyond_the_hourly_quota_are_refused_but_resending_is_free(
    live: LiveSystem,
    office: Office,
) -> None:
    live.stop_api()
    live.start_api(join_requests_per_hour="2")
    try:
        first = signed(live, Account.create(), office.id)
        assert post(live, office.id, first).status_code == 200
        assert post(live, office.id, signed(live, Account.create(), office.id)).status_code == 200
        refused = post(live, office.id, signed(live, Account.create(), office.id))
        assert refused.status_code == 429 and refused.json()["code"] == "JoinQuotaExceeded"
        assert "Retry-After" in refused.headers
        assert post(live, office.id, first).status_code == 200
    finally:
        live.stop_api()
        live.start_api()


def test_a_request_left_unanswered_expires_and_its_resident_may_ask_anew(
    live: LiveSystem,
    office: Office,
) -> None:
    live.stop_api()
    live.start_api(join_request_ttl_s="1")
    try:
        resident = Account.create()
        old = signed(live, resident, office.id)
        code = post(live, office.id, old).json()["code"]
        time.sleep(1.5)
        found = httpx.get(f"{live.url}/v1/communities/{office.id}/joins/{code}")
        assert found.status_code == 410 and found.json()["code"] == "JoinExpired"
        listed = httpx.get(
            f"{live.url}/v1/communities/{office.id}/joins",
            headers=login(live, office.registrar),
            params={"limit": 1000},
        ).json()["items"]
        assert all(j["resident"] != resident.address for j in listed)
        assert post(live, office.id, old).status_code == 410, "the expired one stays expired"
        fresh = signed(live, resident, office.id)  # signed a second or more later
        answer = post(live, office.id, fresh)
        assert answer.status_code == 200 and answer.json()["status"] == "pending"
        assert answer.json()["code"] != code
    finally:
        live.stop_api()
        live.start_api()


def test_code_lookups_beyond_the_quota_are_refused(live: LiveSystem, office: Office) -> None:
    code = post(live, office.id, signed(live, Account.create(), office.id)).json()["code"]
    live.stop_api()
    live.start_api(join_lookups_per_minute="2")
    try:
        url = f"{live.url}/v1/communities/{office.id}/joins/{code}"
        assert [httpx.get(url).status_code for _ in range(2)] == [200, 200]
        refused = httpx.get(url)
        assert refused.status_code == 429 and refused.json()["code"] == "JoinLookupQuotaExceeded"
        assert "Retry-After" in refused.headers
    finally:
        live.stop_api()
        live.start_api()
