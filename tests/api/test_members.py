"""Display names over HTTP, on the real app in-process against the session chain's real
Registry: who may see and set them (signed-out 401, outsider 403, members only), how they are
normalised and found (case, width, Chinese, pages), malformed input, and a name holding markup
returned as text that the page never parses as HTML."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from api.main import create_app
from api.security import TokenAuthority
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.index import EventIndex
from ledger.offchain import OffchainStore
from ledger.tx import send
from ledger.worker import open_index
from tests.relay_support import COMMITTEE, open_election

WEB_SRC = Path(__file__).resolve().parents[2] / "web" / "src"
QUOTA = 20
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'

# W, A, N, G in their full-width forms (U+FF37 ...), as a Chinese keyboard types them.
FULL_WIDTH_WANG = "\uff37\uff21\uff2e\uff27"


@dataclass
class Town:
    client: TestClient
    community: int
    residents: list[LocalAccount]
    committee: LocalAccount
    outsider: LocalAccount
    index: EventIndex

    def path(self, tail: str = "") -> str:
        return f"/v1/communities/{self.community}/members{tail}"


def sign_in(client: TestClient, account: LocalAccount) -> dict[str, str]:
    challenge = client.post("/v1/auth/challenge", json={"address": account.address}).json()
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key)
    login = client.post(
        "/v1/auth/login",
        json={"nonce": challenge["nonce"], "signature": "0x" + signature.signature.hex()},
    )
    return {"Authorization": f"Bearer {login.json()['token']}"}


@pytest.fixture
def town(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], tmp_path: Path
) -> Iterator[Town]:
    _, residents = open_election(w3, system, accounts, voters=4, tag=70)
    community = int(system.registry.functions.communityCount().call())
    settings = Settings(data_dir=tmp_path, name_changes_per_hour=QUOTA)
    store = OffchainStore(tmp_path / "api.sqlite")
    index = open_index(settings, w3, system)
    index.sync()
    services: Any = SimpleNamespace(
        settings=settings,
        store=store,
        deployment=system,
        decoder=None,
        w3=w3,
        index=index,
        auth=TokenAuthority(b"k" * 32, domain="t", chain_id=31337, token_ttl_s=600),
    )
    with TestClient(create_app(settings, services=services)) as client:
        yield Town(client, community, residents, accounts[2], Account.create(), index)
    store.close()
    index.close()


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def set_name(town: Town, who: LocalAccount, name: str) -> Any:
    return town.client.put(
        town.path("/me/name"), json={"name": name}, headers=sign_in(town.client, who)
    )


def test_signed_out_readers_get_401_on_every_members_route(town: Town) -> None:
    someone = town.residents[0].address
    refused(town.client.get(town.path()), 401, "NotSignedIn")
    refused(town.client.get(town.path(f"/{someone}")), 401, "NotSignedIn")
    refused(town.client.put(town.path("/me/name"), json={"name": "x"}), 401, "NotSignedIn")
    bad = {"Authorization": "Bearer forged"}
    refused(town.client.get(town.path(), headers=bad), 401, "BadToken")


def test_an_outsider_can_neither_see_nor_set_names(town: Town) -> None:
    assert set_name(town, town.residents[0], "王芳").status_code == 200
    outsider = sign_in(town.client, town.outsider)
    refused(town.client.get(town.path("?q=王"), headers=outsider), 403, "NotMember")
    refused(
        town.client.get(town.path(f"/{town.residents[0].address}"), headers=outsider),
        403,
        "NotMember",
    )
    refused(set_name(town, town.outsider, "Mallory"), 403, "NotMember")
    member = sign_in(town.client, town.residents[1])
    assert town.client.get(town.path(), headers=member).json()["total"] == 1


def test_members_and_role_holders_see_each_others_names_with_a_tag(town: Town) -> None:
    wang, li = town.residents[0], town.residents[1]
    assert set_name(town, wang, "  王芳 ").json()["name"] == "王芳"
    assert set_name(town, town.committee, "Chair Li").status_code == 200  # a role, not the roll
    seen = town.client.get(town.path(f"/{wang.address.lower()}"), headers=sign_in(town.client, li))
    assert seen.status_code == 200
    body = seen.json()
    assert body["address"] == wang.address and body["name"] == "王芳"
    assert body["tag"] == wang.address[-4:].lower() and body["updatedAt"] > 0
    refused(
        town.client.get(town.path(f"/{li.address}"), headers=sign_in(town.client, wang)),
        404,
        "NoDisplayName",
    )


def test_a_member_sets_only_their_own_name_and_may_share_it_with_another(town: Town) -> None:
    a, b = town.residents[0], town.residents[1]
    set_name(town, a, "Zhang Wei")
    set_name(town, b, "Zhang Wei")
    set_name(town, a, "Zhang Wei")  # setting it again keeps one entry
    page = town.client.get(town.path("?q=zhang"), headers=sign_in(town.client, a)).json()
    assert page["total"] == 2
    assert {(m["address"], m["tag"]) for m in page["items"]} == {
        (a.address, a.address[-4:].lower()),
        (b.address, b.address[-4:].lower()),
    }


def test_names_are_normalised_and_bad_ones_refused_with_422(town: Town) -> None:
    who = town.residents[0]
    assert set_name(town, who, "Zoe\u0301 \u3000 Li").json()["name"] == "Zo\u00e9 Li"
    for bad in ("   ", "x" * 41, "a\nb", "\u202eevil", "tab\there"):
        refused(set_name(town, who, bad), 422, "InvalidName")
    headers = sign_in(town.client, who)
    for body in ({}, {"name": 7}, {"name": "x", "extra": 1}, {"name": "y" * 201}):
        refused(town.client.put(town.path("/me/name"), json=body, headers=headers), 422,
                "InvalidRequest")  # fmt: skip
    refused(town.client.get(town.path("/0x1234"), headers=headers), 422, "InvalidAddress")
    refused(town.client.get(town.path("?limit=0"), headers=headers), 422, "InvalidRequest")
    refused(town.client.get(town.path("?limit=101"), headers=headers), 422, "InvalidRequest")
    refused(town.client.get(town.path("?offset=-1"), headers=headers), 422, "InvalidRequest")
    refused(town.client.get(town.path("?q=" + "q" * 41), headers=headers), 422, "InvalidRequest")
    refused(town.client.get("/v1/communities/999/members", headers=headers), 404,
            "UnknownCommunity")  # fmt: skip


def test_search_ignores_case_and_width_and_matches_chinese_substrings(town: Town) -> None:
    names = ["Wang Fang", "王小明", "李明", "Li Wei"]
    for who, name in zip(town.residents, names, strict=True):
        set_name(town, who, name)
    headers = sign_in(town.client, town.residents[0])

    def found(q: str) -> list[str]:
        page = town.client.get(town.path(), params={"q": q}, headers=headers).json()
        return [m["name"] for m in page["items"]]

    assert found("WANG") == ["Wang Fang"]
    assert found(FULL_WIDTH_WANG) == ["Wang Fang"]  # full-width letters
    assert sorted(found("明")) == ["李明", "王小明"]
    assert found("li") == ["Li Wei"]
    assert found("nobody") == []
    assert len(found("")) == 4


def test_limit_and_offset_page_through_every_match(town: Town) -> None:
    for i, who in enumerate(town.residents):
        set_name(town, who, f"Neighbour {i}")
    headers = sign_in(town.client, town.residents[0])
    pages = [
        town.client.get(town.path(f"?q=neighbour&limit=3&offset={o}"), headers=headers).json()
        for o in (0, 3)
    ]
    assert [p["total"] for p in pages] == [4, 4]
    assert [len(p["items"]) for p in pages] == [3, 1]
    seen = [m["name"] for p in pages for m in p["items"]]
    assert seen == [f"Neighbour {i}" for i in range(4)]


def test_setting_names_is_rate_limited_per_client(town: Town) -> None:
    who = town.residents[0]
    headers = sign_in(town.client, who)
    answers = [
        town.client.put(town.path("/me/name"), json={"name": f"n{i}"}, headers=headers)
        for i in range(QUOTA + 1)
    ]
    assert [a.status_code for a in answers[:QUOTA]] == [200] * QUOTA
    refused(answers[QUOTA], 429, "NameQuotaExceeded")
    assert int(answers[QUOTA].headers["retry-after"]) >= 1


def test_a_name_with_markup_is_stored_and_returned_as_plain_json_text(town: Town) -> None:
    set_name(town, town.residents[0], HOSTILE[:40])
    answer = town.client.get(town.path(), headers=sign_in(town.client, town.residents[1]))
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["items"][0]["name"] == HOSTILE[:40]


def test_the_page_never_parses_text_as_html() -> None:
    """Names (and everything else the API returns) reach the page's DOM only as text nodes
    (web/src/dom.ts): no source file assigns HTML."""
    sink = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser")
    offenders = [
        f"{p.relative_to(WEB_SRC)}:{n}"
        for p in sorted(WEB_SRC.rglob("*.ts"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if sink.search(line)
    ]
    assert offenders == []


def test_openapi_documents_the_members_routes_refusals(town: Town) -> None:
    paths = town.client.get("/openapi.json").json()["paths"]
    put = paths["/v1/communities/{community_id}/members/me/name"]["put"]["responses"]
    find = paths["/v1/communities/{community_id}/members"]["get"]["responses"]
    assert {"401", "403", "422", "429"} <= set(put)
    assert {"401", "403"} <= set(find)


def test_a_role_grant_is_membership_enough_to_set_a_name(
    town: Town, w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    newcomer = Account.create()
    refused(set_name(town, newcomer, "New"), 403, "NotMember")
    registry = system.registry.functions
    send(w3, accounts[1], registry.grantRole(town.community, COMMITTEE, newcomer.address))
    assert set_name(town, newcomer, "New").status_code == 200
    town.index.sync()
    headers = sign_in(town.client, town.residents[0])
    assert town.client.get(town.path("?q=new"), headers=headers).json()["total"] == 1


def test_someone_taken_off_the_roll_is_no_longer_found_but_old_records_still_name_them(
    town: Town, w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    leaving, staying = town.residents[0], town.residents[1]
    set_name(town, leaving, "Moving Away")
    headers = sign_in(town.client, staying)
    assert town.client.get(town.path("?q=moving"), headers=headers).json()["total"] == 1
    registry = system.registry.functions
    send(w3, accounts[1], registry.updateRoll(town.community, [], [leaving.address], True))
    town.index.sync()
    assert town.client.get(town.path("?q=moving"), headers=headers).json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }
    named = town.client.get(town.path(f"/{leaving.address}"), headers=headers)
    assert named.json()["name"] == "Moving Away"
    refused(set_name(town, leaving, "Back Again"), 403, "NotMember")


def test_a_name_never_reaches_the_log(town: Town, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    set_name(town, town.residents[0], "Secret Neighbour")
    refused(set_name(town, town.residents[0], "Secret\nNeighbour"), 422, "InvalidName")
    town.client.get(town.path("?q=Secret"), headers=sign_in(town.client, town.residents[1]))
    # httpx here is the test's own client; the server (uvicorn runs with access_log=False, the
    # TLS proxy with access_log off) logs through every other logger.
    server = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert not any("Secret" in m for m in server)
