"""Security headers on every kind of response (api/headers.py), and the client and scheme taken
from forwarded headers only when a trusted proxy sent them (COMMONS_TRUSTED_PROXIES)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from api import fastpath
from api.fastpath import BallotFastPath
from api.headers import PAGE_CSP
from api.main import create_app
from api.schemas import ReceiptOut
from api.security import TokenAuthority
from ledger.config import Settings
from ledger.offchain import OffchainStore
from tests.api.test_fastpath import BALLOT, RECEIPT, Inner, WithState

ROOT = Path(__file__).resolve().parents[2]
PROXY = "127.0.0.2"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    """A factory: a TestClient on the app with these settings, seen as coming from `peer`."""
    opened: list[tuple[TestClient, OffchainStore]] = []

    def build(peer: str = "127.0.0.1", **overrides: Any) -> TestClient:
        s = Settings(data_dir=tmp_path, **overrides)
        store = OffchainStore(tmp_path / f"api-{len(opened)}.sqlite")
        auth = TokenAuthority(b"k" * 32, domain="t", chain_id=1, token_ttl_s=60)
        services: Any = SimpleNamespace(settings=s, store=store, auth=auth)
        client = TestClient(create_app(s, services=services), client=(peer, 50000)).__enter__()
        opened.append((client, store))
        return client

    yield build
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


def assert_common(headers: httpx.Headers) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["permissions-policy"].startswith("camera=()")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-resource-policy"] == "same-origin"


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}


# --- which policy where -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/openapi.json", 200),
        ("GET", "/v1/no-such-route", 404),
        ("POST", "/v1/texts", 415),  # refused by RequireJson, before any route
    ],
)
def test_api_responses_may_load_nothing(make: Any, method: str, path: str, status: int) -> None:
    answer = make().request(method, path, content=b"x", headers={"content-type": "text/plain"})
    assert answer.status_code == status
    assert_common(answer.headers)
    policy = directives(answer.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert "script-src" not in policy and policy["form-action"] == ["'none'"]


def test_an_oversized_body_is_refused_with_the_headers_too(make: Any) -> None:
    answer = make(max_body_bytes=10).post("/v1/texts", json={"text": "x" * 100})
    assert answer.status_code == 413
    assert_common(answer.headers)


def test_the_page_policy_is_the_pages_own_meta_policy_plus_frame_ancestors(make: Any) -> None:
    html = (ROOT / "web" / "src" / "index.html").read_text()
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert meta is not None
    # frame-ancestors is ignored in a meta tag: only the header can say it.
    assert meta.group(1) + "; frame-ancestors 'none'" == PAGE_CSP
    answer = make().get("/no-such-page")  # the page's static files, whatever they answer
    assert answer.headers["content-security-policy"] == PAGE_CSP
    assert_common(answer.headers)


def test_the_docs_load_only_from_this_server_and_exactly_their_own_inline_scripts(
    make: Any,
) -> None:
    client = make()
    for path in ("/docs",):
        answer = client.get(path)
        assert answer.status_code == 200
        assert_common(answer.headers)
        scripts = directives(answer.headers["content-security-policy"])["script-src"]
        inline = re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL)
        assert inline, "FastAPI's docs start Swagger UI with an inline script"
        hashes = {
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline
        }
        assert set(scripts) == {"'self'", *hashes}
        assert "http" not in answer.headers["content-security-policy"], "no other origin"
        assert int(answer.headers["content-length"]) == len(answer.content)
        assets = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
        assert assets and all(a.startswith("/docs-assets/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    assert client.get("/docs-assets/index.html").status_code == 404
    assert client.get("/redoc").status_code == 404


# --- HSTS and the trusted proxy -----------------------------------------------------------------


def test_hsts_only_when_a_trusted_proxy_says_the_request_came_over_tls(make: Any) -> None:
    https = {"X-Forwarded-Proto": "https"}
    assert "strict-transport-security" not in make().get("/openapi.json").headers
    # Anyone may claim https; only the proxy is believed.
    assert "strict-transport-security" not in make(peer="127.0.0.1").get("/", headers=https).headers
    untrusted = make(peer="127.0.0.1", trusted_proxies=PROXY).get("/openapi.json", headers=https)
    assert "strict-transport-security" not in untrusted.headers
    proxied = make(peer=PROXY, trusted_proxies=PROXY)
    for path in ("/openapi.json", "/", "/docs"):
        hsts = proxied.get(path, headers=https).headers.get_list("strict-transport-security")
        assert hsts == ["max-age=63072000; includeSubDomains"], path
    assert "strict-transport-security" not in proxied.get("/openapi.json").headers


def _challenges(client: TestClient, n: int, forwarded_for: str | None = None) -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [
        client.post(
            "/v1/auth/challenge", json={"address": Account.create().address}, headers=headers
        ).status_code
        for _ in range(n)
    ]


def test_a_forged_forwarded_for_is_ignored_from_a_peer_that_is_not_the_proxy(
    make: Any,
) -> None:
    for trusted in ((), (PROXY,)):
        client = make(peer="127.0.0.1", trusted_proxies=trusted, challenges_per_minute=2)
        forged = [_challenges(client, 1, f"10.0.0.{i}")[0] for i in range(3)]
        assert forged == [200, 200, 429], trusted


def test_clients_behind_the_trusted_proxy_have_a_quota_each(make: Any) -> None:
    client = make(peer=PROXY, trusted_proxies=PROXY, challenges_per_minute=2)
    assert _challenges(client, 3, "203.0.113.7") == [200, 200, 429]
    assert _challenges(client, 1, "203.0.113.8") == [200]
    # A chain of proxies: the address nearest the trusted one is the client's.
    assert _challenges(client, 1, "198.51.100.1, 203.0.113.7") == [429]


def test_an_ipv6_client_has_one_quota_for_its_whole_64(make: Any) -> None:
    client = make(peer=PROXY, trusted_proxies=PROXY, challenges_per_minute=2)
    assert _challenges(client, 1, "2001:db8:1:2::1") == [200]
    assert _challenges(client, 2, "2001:db8:1:2:ffff::9") == [200, 429], "the same /64"
    assert _challenges(client, 1, "2001:db8:1:3::1") == [200], "the next /64"


def test_a_trusted_network_covers_every_proxy_in_it(make: Any) -> None:
    client = make(peer="10.1.2.3", trusted_proxies="10.0.0.0/8", challenges_per_minute=1)
    assert _challenges(client, 1, "203.0.113.9") + _challenges(client, 1, "203.0.113.10") == [
        200,
        200,
    ]


# --- the fast path ------------------------------------------------------------------------------


def test_the_fast_paths_acknowledgement_carries_the_api_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def accept(services: object, kind: str, payload: dict[str, Any]) -> ReceiptOut:
        return RECEIPT

    monkeypatch.setattr(fastpath, "accept", accept)

    def post(scheme: str) -> httpx.Response:
        inner = Inner()

        async def go() -> httpx.Response:
            app = WithState(BallotFastPath(inner, max_bytes=4096))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://t") as c:
                return await c.post(
                    "/v1/ballots", content=BALLOT, headers={"content-type": "application/json"}
                )

        answer = asyncio.run(go())
        assert answer.status_code == 202 and inner.seen == []
        return answer

    plain, tls = post("http"), post("https")
    assert_common(plain.headers)
    assert directives(plain.headers["content-security-policy"])["default-src"] == ["'none'"]
    assert "strict-transport-security" not in plain.headers
    assert tls.headers["strict-transport-security"].startswith("max-age=63072000")
