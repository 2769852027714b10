"""A member's history across a key rotation, through the real API: after the registrar
replaces resident1's key (forwarded, gasless), the new key's history holds the old key's records
and names the balance carried over from it; the balances listing moves it too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from commons.demo import demo_keys, seed_demo
from tests.e2e.conftest import LiveSystem
from tests.e2e.conftest import live as live


@pytest.fixture(scope="module")
def rotated(live: LiveSystem) -> Iterator[dict[str, Any]]:
    keys = demo_keys(live.data_dir / "demo-keys.json")
    made = seed_demo(live.client, keys, lambda _: None, fast_clock=True)
    cid = int(made["community"])
    registry, bank = live.client.contracts["registry"], live.client.contracts["timebank"]
    old, new = keys["resident1"].address, Account.create().address
    before = int(bank.functions.balanceOf(cid, old).call())
    live.client.act(keys["registrar"], registry.functions.replaceResident(cid, old, new))
    done = live.client.act(keys["registrar"], bank.functions.carryOver(cid, old))
    live.client.wait_indexed(int(done["block"]))
    yield {"cid": cid, "old": old, "new": new, "before": before, "live": live}


def test_new_keys_history_includes_the_old_keys_records_and_the_carry_over(
    rotated: dict[str, Any],
) -> None:
    live, cid, old, new = rotated["live"], rotated["cid"], rotated["old"], rotated["new"]
    history = live.client.get(f"/v1/communities/{cid}/members/{new}/history")
    assert history["account"] == new and history["minutes"] == rotated["before"]
    assert history["keys"] == [new, old]
    (carried,) = history["carriedOver"]
    assert (carried["fromAccount"], carried["toAccount"]) == (old, new)
    assert carried["minutes"] == rotated["before"] and carried["timestamp"] > 0
    assert history["records"], "the old key's services are in the new key's history"
    for record in history["records"]:
        assert old in (record["args"]["provider"], record["args"]["recipient"])


def test_old_keys_history_stops_at_the_old_key_with_a_zero_balance(
    rotated: dict[str, Any],
) -> None:
    live, cid, old = rotated["live"], rotated["cid"], rotated["old"]
    history = live.client.get(f"/v1/communities/{cid}/members/{old}/history")
    assert history["keys"] == [old] and history["minutes"] == 0 and history["carriedOver"] == []


def test_balances_listing_follows_the_carried_balance(rotated: dict[str, Any]) -> None:
    live, cid = rotated["live"], rotated["cid"]
    page = live.client.get(f"/v1/communities/{cid}/balances")
    minutes = {row["account"]: row["minutes"] for row in page["items"]}
    assert minutes[rotated["new"]] == rotated["before"] and minutes[rotated["old"]] == 0
    assert sum(minutes.values()) == 0


def test_history_of_a_malformed_address_is_refused_as_invalid(rotated: dict[str, Any]) -> None:
    live, cid = rotated["live"], rotated["cid"]
    response = live.client.http.get(f"/v1/communities/{cid}/members/0x1234/history")
    assert response.status_code == 422 and response.json()["code"] == "InvalidAddress"
