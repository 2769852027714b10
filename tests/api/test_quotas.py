"""Quotas, on the real app in-process: proposal texts (per client, and the store's total size),
sign-in challenges (per client, and the outstanding map bounded), audits (one at a time, a
minimum interval, no blocks past the head) and the pending-service inbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.errors import QuotaExceeded
from api.main import create_app
from api.security import TokenAuthority
from api.services.timebank import check_inbox
from ledger.audit.jobs import AuditJob, AuditJobs
from ledger.config import Settings
from ledger.offchain import OffchainStore

HEAD = 100


def settings(tmp: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp, **overrides)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    """A factory: the app with these settings over a real off-chain store and token authority;
    yields (client, app, services)."""
    opened: list[tuple[TestClient, OffchainStore]] = []

    def build(**overrides: Any) -> tuple[TestClient, Any, Any]:
        s = settings(tmp_path, **overrides)
        store = OffchainStore(tmp_path / f"api-{len(opened)}.sqlite")
        auth = TokenAuthority(b"k" * 32, domain="t", chain_id=1, token_ttl_s=60,
                              max_challenges=s.max_challenges)  # fmt: skip
        services: Any = SimpleNamespace(
            settings=s,
            store=store,
            auth=auth,
            decoder=None,
            w3=SimpleNamespace(eth=SimpleNamespace(block_number=HEAD)),
        )
        app = create_app(s, services=services)
        client = TestClient(app).__enter__()
        opened.append((client, store))
        return client, app, services

    yield build
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["detail"], body
    if status == 429:
        assert int(response.headers["retry-after"]) >= 1
    return body


# --- texts ------------------------------------------------------------------------------------


def test_texts_beyond_a_clients_hourly_quota_get_429_and_a_stored_text_costs_nothing(
    make: Any,
) -> None:
    client, _, _ = make(text_quota_bytes_per_hour=4096)
    for i in range(4):  # each costs at least 1 KiB of the 4 KiB budget
        assert client.post("/v1/texts", json={"text": f"text {i}"}).status_code == 201
    body = refused(client.post("/v1/texts", json={"text": "one more"}), 429, "TextQuotaExceeded")
    assert "proposal texts" in body["detail"]
    assert client.post("/v1/texts", json={"text": "text 0"}).status_code == 201


def test_texts_past_the_stores_total_size_are_refused_and_stored_ones_still_served(
    make: Any,
) -> None:
    client, _, _ = make(text_store_max_bytes=3000)
    assert client.post("/v1/texts", json={"text": "a" * 2000}).status_code == 201
    refused(client.post("/v1/texts", json={"text": "b" * 1001}), 413, "TextStoreFull")
    assert client.post("/v1/texts", json={"text": "c" * 1000}).status_code == 201
    assert client.post("/v1/texts", json={"text": "a" * 2000}).status_code == 201


# --- sign-in challenges -------------------------------------------------------------------------


def test_challenges_beyond_a_clients_rate_get_429(make: Any) -> None:
    client, _, _ = make(challenges_per_minute=3)
    address = Account.create().address
    for _ in range(3):
        assert client.post("/v1/auth/challenge", json={"address": address}).status_code == 200
    answer = client.post("/v1/auth/challenge", json={"address": address})
    refused(answer, 429, "ChallengeQuotaExceeded")


def test_outstanding_challenges_are_capped_and_the_oldest_is_dropped() -> None:
    auth = TokenAuthority(b"k" * 32, domain="t", chain_id=1, token_ttl_s=60, max_challenges=3)
    accounts = [Account.create() for _ in range(5)]
    challenges = [auth.challenge(a.address) for a in accounts]
    assert auth.outstanding() == 3

    def sign(i: int) -> str:
        message = encode_defunct(text=challenges[i].message)
        return "0x" + Account.sign_message(message, accounts[i].key).signature.hex()

    with pytest.raises(PermissionError, match="unknown or expired"):
        auth.login(challenges[0].nonce, sign(0))
    assert auth.login(challenges[4].nonce, sign(4))[0] == accounts[4].address


def test_expired_challenges_leave_the_map(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = TokenAuthority(b"k" * 32, domain="t", chain_id=1, token_ttl_s=60, max_challenges=100)
    for _ in range(10):
        auth.challenge(Account.create().address)
    later = time.time() + 301
    monkeypatch.setattr("api.security.time.time", lambda: later)
    auth.challenge(Account.create().address)
    assert auth.outstanding() == 1


# --- audits -------------------------------------------------------------------------------------


def _jobs(app: Any, services: Any, **job: Any) -> AuditJobs:
    jobs = AuditJobs(services.settings, "http://127.0.0.1:9", {}, None, min_interval_s=60)
    jobs._jobs["earlier"] = AuditJob("earlier", **job)
    app.state.audit_jobs = jobs
    return jobs


def test_an_audit_while_one_runs_gets_429_naming_it(make: Any) -> None:
    client, app, services = make()
    _jobs(app, services, status="running")
    body = refused(client.post("/v1/audit", json={}), 429, "AuditRunning")
    assert "/v1/audit/earlier" in body["detail"]


def test_an_audit_soon_after_the_previous_one_gets_429_with_the_wait(make: Any) -> None:
    client, app, services = make()
    _jobs(app, services, status="done", finished_at=time.time() - 10)
    answer = client.post("/v1/audit", json={})
    refused(answer, 429, "AuditTooSoon")
    assert 45 <= int(answer.headers["retry-after"]) <= 51


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"toBlock": HEAD + 1}, "BlockBeyondHead"),
        ({"fromBlock": HEAD + 5}, "BlockBeyondHead"),
        ({"fromBlock": 7, "toBlock": 6}, "InvalidBlockRange"),
    ],
)
def test_an_audit_of_blocks_past_the_head_is_refused_at_once(
    make: Any, body: dict[str, int], code: str
) -> None:
    client, app, services = make()
    jobs = _jobs(app, services, status="done", finished_at=0.0)
    refused(client.post("/v1/audit", json=body), 422, code)
    assert list(jobs._jobs) == ["earlier"]  # no job was started


# --- the pending-service inbox ------------------------------------------------------------------


def _pending(store: OffchainStore, n: int, provider: str, recipient: str) -> None:
    for i in range(n):
        body = {"communityId": 1, "record": {"provider": provider, "recipient": recipient}}
        store.put_pending(f"0x{provider[-4:]}{recipient[-4:]}{i:04x}", 1, recipient, body)


def test_the_inbox_is_bounded_per_provider_and_per_recipient(tmp_path: Path) -> None:
    store = OffchainStore(tmp_path / "api.sqlite")
    s = settings(tmp_path, max_pending_per_provider=2, max_pending_per_recipient=3)
    services: Any = SimpleNamespace(store=store, settings=s)
    alice, bob, carol, dave = (Account.create().address for _ in range(4))
    _pending(store, 2, alice, bob)
    with pytest.raises(QuotaExceeded, match=f"{alice} has 2 services waiting"):
        check_inbox(services, alice, carol)
    check_inbox(services, carol, bob)  # bob has 2 of 3
    _pending(store, 1, carol, bob)
    with pytest.raises(QuotaExceeded, match=f"{bob} has 3 services waiting") as full:
        check_inbox(services, dave, bob)
    assert full.value.code == "TooManyPending"
    store.mark_confirmed(f"0x{alice[-4:]}{bob[-4:]}0000")
    check_inbox(services, alice, carol)  # a confirmed record no longer counts
    store.close()
