"""Key rotations in the audit: a rotation made through the forwarder audits clean and is named in
the report; a balance that moved without a recorded rotation, or by another amount than the old
key's balance, or twice, is named (handlers fed made-up events, as a swapped contract could emit;
and for real, with a replacement written into the Registry's storage by hand)."""

from __future__ import annotations

from typing import Any, cast

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit import registry, rotation, timebank
from ledger.audit.bytecode import Build
from ledger.audit.chain import Call
from ledger.audit.context import Ctx
from ledger.audit.layout import Layout
from ledger.audit.report import markdown
from ledger.audit.state import AuditState, Community, Member
from ledger.node import rpc
from ledger.tx import send
from tests.audit.conftest import History, findings_of

REGISTRAR, OLD, NEW, STRANGER = b"\xaa" * 20, b"\x01" * 20, b"\x02" * 20, b"\xcc" * 20
CID = 1


def _ctx() -> Ctx:
    state = AuditState(next_block=0)
    community = Community(CID, REGISTRAR, roll_version=1, roll_size=1, pending_size=1)
    community.roles["REGISTRAR"].add(REGISTRAR)
    community.members[OLD] = Member(0, [[1, 0]])
    community.next_index = 1
    state.communities[CID] = community
    state.timebank(CID).balances.update({OLD: 90, STRANGER: -90})
    return Ctx(
        state=state,
        chain_id=31337,
        contracts={"council": b"\xc0" * 20, "timebank": b"\x7b" * 20},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _call(actor: bytes, block: int = 5) -> Call:
    return Call(block, 0, "0x" + "11" * 32, 0, actor, b"\x7b" * 20, None, [], "tx")


def _registry_event(ctx: Ctx, name: str, ev: dict[str, Any], actor: bytes = REGISTRAR) -> None:
    registry.handle(ctx, _call(actor), None, None, name, {"communityId": CID, **ev})


def _replace(ctx: Ctx, old: bytes = OLD, new: bytes = NEW, actor: bytes = REGISTRAR) -> None:
    _registry_event(ctx, "RollUpdated", {"version": 2, "added": [new], "removed": [old]}, actor)
    _registry_event(ctx, "RollPublished", {"version": 2, "size": 1}, actor)
    ev = {"oldAccount": old, "newAccount": new, "registrar": actor, "version": 2}
    _registry_event(ctx, "ResidentReplaced", ev, actor)


def _carry(ctx: Ctx, minutes: int, old: bytes = OLD, new: bytes = NEW) -> None:
    ev = {
        "communityId": CID,
        "oldAccount": old,
        "newAccount": new,
        "minutesMoved": minutes,
        "registrar": REGISTRAR,
    }
    rotation.carried_over(ctx, _call(REGISTRAR, 6), "carryOver", ev)


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


def test_rotation_then_whole_balance_carried_over_audits_clean() -> None:
    ctx = _ctx()
    _replace(ctx)
    _carry(ctx, 90)
    assert ctx.findings == []
    book = ctx.state.timebank(CID)
    assert (book.balances[OLD], book.balances[NEW]) == (0, 90)
    assert book.stamps[OLD] == rotation.RETIRED_STAMP
    (row,) = ctx.state.rotations
    assert (row["old"], row["new"], row["carried_minutes"], row["carried_block"]) == (
        "0x" + OLD.hex(),
        "0x" + NEW.hex(),
        90,
        6,
    )


def test_balance_moved_without_a_recorded_rotation_is_named() -> None:
    ctx = _ctx()
    _carry(ctx, 90)
    assert _rules(ctx) == ["timebank.rotation"]
    assert "without a recorded rotation" in ctx.findings[0].detail


def test_balance_moved_to_another_key_than_the_recorded_one_is_named() -> None:
    ctx = _ctx()
    _replace(ctx)
    _carry(ctx, 90, new=STRANGER)
    assert _rules(ctx) == ["timebank.rotation"]


def test_carried_amount_other_than_the_old_balance_is_named() -> None:
    ctx = _ctx()
    _replace(ctx)
    _carry(ctx, 600)
    assert _rules(ctx) == ["timebank.rotation"]
    assert "not" in ctx.findings[0].detail and ctx.findings[0].expected == "90"


def test_balance_carried_over_twice_is_named() -> None:
    ctx = _ctx()
    _replace(ctx)
    _carry(ctx, 90)
    _carry(ctx, 0)
    assert _rules(ctx) == ["timebank.rotation"]


def test_rotation_by_a_non_registrar_is_named() -> None:
    ctx = _ctx()
    _replace(ctx, actor=STRANGER)
    assert set(_rules(ctx)) == {"registry.permission"}


def test_rotation_to_a_key_with_roll_history_is_named() -> None:
    ctx = _ctx()
    ctx.state.communities[CID].members[NEW] = Member(1, [[1, 2]])
    _replace(ctx)
    assert _rules(ctx) == ["registry.rotation"]
    assert "without being fresh" in ctx.findings[0].detail


def test_replaced_key_rejoining_the_roll_is_named() -> None:
    ctx = _ctx()
    _replace(ctx)
    _registry_event(ctx, "RollUpdated", {"version": 3, "added": [OLD], "removed": []})
    assert _rules(ctx) == ["registry.rotation"]


def test_retired_key_judged_as_retired_not_merely_off_the_roll() -> None:
    ctx = _ctx()
    _replace(ctx)
    assert rotation.retired_replacement(ctx, CID, OLD) == NEW
    assert timebank.RULE_FOR_ERROR["KeyRetired"] == "timebank.resident"


# ---------------------------------------------------------------- live


def _fresh_key(w3: Web3, seed: bytes) -> LocalAccount:
    account: LocalAccount = w3.eth.account.from_key(seed * 32)
    return account


def test_forwarded_rotation_audits_clean_and_is_named_in_the_report(fresh: History) -> None:
    """Clean against the chain and against what the running API serves."""
    client, keys, cid = fresh.live.client, fresh.keys, fresh.community
    registry_c, bank = client.contracts["registry"], client.contracts["timebank"]
    old = keys["resident1"].address
    new = _fresh_key(fresh.w3, b"\x61").address
    balance = bank.functions.balanceOf(cid, old).call()
    assert balance != 0, "the demo gives resident1 a balance"
    client.act(keys["registrar"], registry_c.functions.replaceResident(cid, old, new))
    client.act(keys["registrar"], bank.functions.carryOver(cid, old))
    assert bank.functions.balanceOf(cid, new).call() == balance
    client.wait_indexed(fresh.w3.eth.block_number)

    # The API's balances listing is compared too: it must follow the carried balance.
    result = fresh.audit(api_url=fresh.live.url)
    assert result.ok, result.findings
    (row,) = result.report["rotations"]
    assert (row["old"], row["new"], row["carried_minutes"]) == (old.lower(), new.lower(), balance)
    assert row["registrar"] == keys["registrar"].address.lower()
    acts = [a["act"] for a in result.report["admin_acts"]]
    assert acts[-2:] == ["ResidentReplaced", "BalanceCarriedOver"]
    assert "## Key rotations" in markdown({"report": result.report})


def test_replacement_written_into_storage_then_carried_over_is_named(
    fresh: History, build: Build
) -> None:
    client, keys, cid = fresh.live.client, fresh.keys, fresh.community
    registry_c, bank = client.contracts["registry"], client.contracts["timebank"]
    # Another resident than the other test's: a reverted relayed call may be sent again.
    old = keys["resident3"].address
    thief = _fresh_key(fresh.w3, b"\x62").address
    # The node's operator writes a replacement the registrar never made ...
    slot, _ = Layout(build.contracts["Registry"].layout).mapping(
        "_replacements", cid, bytes.fromhex(old[2:])
    )
    value = "0x" + bytes.fromhex(thief[2:]).rjust(32, b"\0").hex()
    rpc(fresh.w3, "anvil_setStorageAt", [registry_c.address, hex(slot), value])
    # ... and a registrar's carry-over, honest on its face, moves the balance along it.
    send(fresh.w3, _registrar_account(fresh), bank.functions.carryOver(cid, old))
    result = fresh.audit()
    found = findings_of(result, "timebank.rotation")
    assert found and "without a recorded rotation" in found[0].detail


def _registrar_account(history: History) -> LocalAccount:
    registrar = history.keys["registrar"]
    rpc(history.w3, "anvil_setBalance", [registrar.address, hex(10**18)])
    return registrar
