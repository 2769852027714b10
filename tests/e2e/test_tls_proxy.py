"""The page and the API as residents' phones reach them: through nginx over TLS (tests/e2e/tls.py)
in front of the real API (trusting the proxy's address, 127.0.0.2, and no other) on a real chain.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.offchain import text_hash
from ledger.protocol.generated import BallotKind, ProposalParams, Roles
from ledger.signing.ballots import make_ballot, sign_ballot
from tests.e2e.conftest import LiveSystem, new_accounts
from tests.e2e.tls import NGINX, PROXY_ADDRESS, SERVER_NAME, Certs, Proxy, make_certs, tls_proxy

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHALLENGES_PER_MINUTE = 3

# Locally a missing nginx skips, naming the make target; in CI (`make test` installs it) it fails.
pytestmark = pytest.mark.skipif(
    not NGINX.exists() and not os.environ.get("CI"), reason="needs nginx (make nginx)"
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def proxy(live: LiveSystem, certs: Certs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:  # fmt: skip
    if not (ROOT / "web" / "dist" / "index.html").exists():
        subprocess.run(["node", "build.mjs"], cwd=ROOT / "web", check=True, timeout=120)
    # The API again, now trusting the proxy's address (and serving the page built above).
    live.stop_api()
    live.start_api(trusted_proxies=PROXY_ADDRESS, challenges_per_minute=str(CHALLENGES_PER_MINUTE))
    with tls_proxy(live.env, certs, tmp_path_factory.mktemp("nginx")) as served:
        yield served


# --- a community to vote in ---------------------------------------------------------------------


@dataclass
class Community:
    id: int
    chair: LocalAccount
    registrar: LocalAccount
    residents: list[LocalAccount]
    proposal: int

    def open_proposal(self, live: LiveSystem) -> int:
        """A proposal open for a month; its voters are the roll as it stands now."""
        council = live.client.contracts["council"]
        text = f"Plant trees by the gate ({time.monotonic()})."
        live.client.post("/v1/texts", {"text": text})
        now = live.w3.eth.get_block("latest")["timestamp"]
        params = ProposalParams(
            communityId=self.id,
            textHash=bytes.fromhex(text_hash(text)[2:]),
            kind=BallotKind.YesNoAbstain,
            optionCount=3,
            opensAt=now - 1,
            closesAt=now + 30 * 86_400,
            quorumBps=2000,
            thresholdBps=5000,
            budgetAmount=0,
            budgetCurrency=b"\x00" * 3,
        )
        # A plain tuple: web3 takes a struct as one, not as a NamedTuple.
        done = live.client.act(self.chair, council.functions.openProposal(tuple(params)))
        live.client.wait_indexed(done["block"])
        proposal: int = council.functions.proposalCount().call()
        return proposal


@pytest.fixture(scope="module")
def community(proxy: Proxy, live: LiveSystem) -> Community:
    admin, chair, registrar = new_accounts(3)
    residents = new_accounts(2)
    registry = live.client.contracts["registry"]
    live.client.act(admin, registry.functions.createCommunity(Web3.keccak(text="tls")))
    cid: int = registry.functions.communityCount().call()
    live.client.forward(admin, registry.functions.grantRole(cid, Roles.COMMITTEE, chair.address))
    last = live.client.forward(
        admin, registry.functions.grantRole(cid, Roles.REGISTRAR, registrar.address)
    )
    live.client.wait(last["id"])
    roll = [r.address for r in residents]
    live.client.act(registrar, registry.functions.updateRoll(cid, roll, [], True))
    town = Community(cid, chair, registrar, residents, 0)
    town.proposal = town.open_proposal(live)
    return town


def ballot(live: LiveSystem, voter: LocalAccount, proposal: int, option: int) -> dict[str, Any]:
    signed = sign_ballot(
        voter, make_ballot(proposal, voter.address, option), live.client.ballot_domain
    )
    return {"proposalId": proposal, "voter": voter.address, "option": option,
            "signature": "0x" + signed.signature.hex()}  # fmt: skip


def assert_strict_headers(response: httpx.Response, *, page: bool) -> None:
    """The headers docs/security.md promises over TLS, each once."""
    headers = response.headers
    for name in ("content-security-policy", "strict-transport-security", "x-frame-options"):
        assert len(headers.get_list(name)) == 1, (name, headers.get_list(name))
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert ("script-src 'self'" in csp) == page
    assert "http:" not in csp and "https:" not in csp, "no other origin"
    assert headers["strict-transport-security"].startswith("max-age=63072000")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"


# --- the tests ----------------------------------------------------------------------------------


def test_http_is_redirected_to_https_at_the_configured_name(proxy: Proxy) -> None:
    answer = httpx.get(f"{proxy.http}/v1/proposals?x=1", headers={"Host": "evil.example"})
    assert answer.status_code == 308
    assert answer.headers["location"] == f"{proxy.https}/v1/proposals?x=1"


def _handshake(proxy: Proxy, context: ssl.SSLContext) -> str:
    """The TLS version nginx agrees to with a client offering what `context` offers."""
    context.load_verify_locations(proxy.certs.ca)
    port = int(proxy.https.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname=SERVER_NAME) as tls,
    ):
        return str(tls.version())


def test_tls_1_3_is_agreed_and_old_protocols_and_suites_are_refused(proxy: Proxy) -> None:
    assert _handshake(proxy, ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)) == "TLSv1.3"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1, offered on purpose
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # so this client may offer TLS 1.1 at all
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL"):
        _handshake(proxy, old)
    # TLS 1.2 only with a suite that is neither AEAD nor in the list: no shared cipher.
    cbc = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        _handshake(proxy, cbc)
    aead = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    aead.maximum_version = ssl.TLSVersion.TLSv1_2
    aead.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert _handshake(proxy, aead) == "TLSv1.2"


def test_page_api_and_fast_path_ballot_carry_the_security_headers_over_tls(
    proxy: Proxy, live: LiveSystem, community: Community
) -> None:
    with proxy.client() as client:
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text
        assert_strict_headers(page, page=True)
        api = client.get(f"/v1/proposals/{community.proposal}")
        assert api.status_code == 200
        assert_strict_headers(api, page=False)
        voted = client.post(
            "/v1/ballots", json=ballot(live, community.residents[0], community.proposal, 1)
        )
        assert voted.status_code == 202, voted.text
        assert_strict_headers(voted, page=False)
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "'sha256-" in docs.headers["content-security-policy"]
    live.client.wait(voted.json()["id"])
    # Straight to the API over plain HTTP there is no TLS, and so no HSTS, whatever one claims.
    direct = httpx.get(f"{live.url}/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in direct.headers
    assert direct.headers["x-content-type-options"] == "nosniff"


def _challenge(client: httpx.Client, forged: str | None = None) -> int:
    headers = {"X-Forwarded-For": forged} if forged else {}
    answer = client.post(
        "/v1/auth/challenge", json={"address": new_accounts(1)[0].address}, headers=headers
    )
    return answer.status_code


def test_a_forged_forwarded_for_from_a_direct_client_changes_nothing(
    proxy: Proxy, live: LiveSystem
) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.6")
    with httpx.Client(transport=transport, base_url=live.url, timeout=30) as direct:
        codes = [_challenge(direct, forged=f"10.0.0.{i}") for i in range(CHALLENGES_PER_MINUTE + 1)]
    assert codes == [200] * CHALLENGES_PER_MINUTE + [429], "every forged address counted as one"
    # ... and none of it was charged to the address it named.
    with proxy.client("127.0.0.7") as named, proxy.client("127.0.0.6") as same_host:
        assert _challenge(named) == 200
        # Through the proxy, the direct client's own address is the same client still.
        assert _challenge(same_host) == 429


def test_two_clients_behind_the_proxy_are_limited_apart(proxy: Proxy) -> None:
    with proxy.client("127.0.0.3") as first, proxy.client("127.0.0.4") as second:
        codes = [_challenge(first) for _ in range(CHALLENGES_PER_MINUTE + 1)]
        assert codes == [200] * CHALLENGES_PER_MINUTE + [429]
        # nginx sets X-Forwarded-For itself: what a client writes there is not passed on.
        assert _challenge(first, forged="127.0.0.5") == 429
        assert _challenge(second) == 200
    with proxy.client("127.0.0.5") as third:
        assert _challenge(third) == 200


@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"needs {CHROMIUM} (make web-browser)",
)
def test_a_resident_votes_from_the_browser_through_the_tls_proxy(
    proxy: Proxy, live: LiveSystem, community: Community, tmp_path: Path
) -> None:
    def roll_and_open(address: str) -> int:
        registry = live.client.contracts["registry"].functions
        live.client.act(community.registrar, registry.updateRoll(community.id, [address], [], True))
        return community.open_proposal(live)

    log = tmp_path / "tls-vote.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            ["node", str(Path(__file__).with_name("tls_vote.mjs")), "--https", proxy.https,
             "--http", proxy.http, "--spki",
             proxy.certs.spki_sha256, "--chromium", str(CHROMIUM)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
            bufsize=1,
        )  # fmt: skip
        done: dict[str, Any] = {}
        try:
            assert proc.stdout is not None and proc.stdin is not None
            for line in proc.stdout:
                event = json.loads(line)
                if event["event"] == "need":
                    proposal = roll_and_open(event["address"])
                    proc.stdin.write(json.dumps({"proposal": proposal}) + "\n")
                    proc.stdin.flush()
                elif event["event"] == "done":
                    done = event
            proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert done.get("ok"), f"{done.get('error')}\n{log.read_text()[-3000:]}"
    assert done["redirectedFrom"].startswith("http://") and done["url"].startswith(proxy.https)
    assert done["tls"]["protocol"] == "TLS 1.3"
    headers = done["headers"]
    assert headers["strict-transport-security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert done["external"] == [], "the page fetched something from outside its own server"
    assert done["consoleErrors"] == []
    # The API's docs under their own policy: Swagger UI rendered the OpenAPI document, from
    # this server alone.
    assert (done["docs"]["booted"] or "").startswith("Commons Ledger"), done["docs"]
    assert done["docs"]["consoleErrors"] == []
    assert done["docs"]["elsewhere"] == []
    resident = Web3.to_checksum_address(done["resident"])
    assert live.client.contracts["council"].functions.hasVoted(done["proposal"], resident).call()
