"""The relay's checks of a service record before acknowledging it: answered from memory once
both members and the provider have been seen, a "no" from memory confirmed on-chain, and the
two answers that may lag the chain (the published roll version, nonces recorded by another
path) lagging only toward acknowledging, as ledger/relay/services.py says."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.relay.message import Message
from ledger.relay.rolls import RollCache
from ledger.relay.services import ServiceRelay
from ledger.signing.eip712 import recover_address_bytes, sign_typed_data
from ledger.signing.services import (
    SERVICE_TYPES,
    ServiceRecord,
    SignedRecord,
    category_code,
    service_body,
)
from ledger.tx import send
from tests.ledger.conftest import Bank


@pytest.fixture
def rpc_calls(w3: Web3, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The JSON-RPC methods the test's own thread sends to the node from here on. (The chain
    clock's thread re-reads the latest block every few seconds by design, whatever is checked:
    on a loaded machine its reading can fall between two checks.)"""
    sent: list[str] = []
    make_request = w3.provider.make_request
    test_thread = threading.current_thread()

    def counting(method: Any, params: Any) -> Any:
        if threading.current_thread() is test_thread:
            sent.append(str(method))
        return make_request(method, params)

    monkeypatch.setattr(w3.provider, "make_request", counting)
    # web3 keeps the request function it built around the provider's make_request: build anew.
    monkeypatch.setattr(w3.provider, "_request_func_cache", (None, None))
    yield sent


def signed_record(
    bank: Bank,
    provider: LocalAccount,
    recipient: LocalAccount,
    nonce: int,
    note: int = 1,
    minutes: int = 30,
) -> tuple[Message, SignedRecord]:
    payload = record_body(bank, provider, recipient, nonce, note, minutes)
    return bank.kind.parse(payload), bank.kind.read(payload)[1]


def record_body(
    bank: Bank,
    provider: LocalAccount,
    recipient: LocalAccount,
    nonce: int,
    note: int = 1,
    minutes: int = 30,
) -> dict[str, Any]:
    rec = ServiceRecord(
        provider=provider.address,
        recipient=recipient.address,
        minutes_served=minutes,
        category=category_code("CARE"),
        note_hash=bytes([note]) * 32,
        nonce=nonce,
    )

    def sig(account: LocalAccount) -> str:
        signature = sign_typed_data(
            account, bank.kind.domain, SERVICE_TYPES, "ServiceRecord", rec.message(bank.community)
        )
        return "0x" + signature.hex()

    return service_body(bank.community, rec, sig(provider), sig(recipient))


def record(
    bank: Bank, provider: LocalAccount, recipient: LocalAccount, nonce: int, note: int = 1
) -> Message:
    return signed_record(bank, provider, recipient, nonce, note)[0]


def refused(bank: Bank, message: Message) -> str:
    with pytest.raises(InvalidMessage) as info:
        bank.kind.check(message)
    return info.value.code


def test_a_record_between_members_seen_before_is_checked_without_the_chain(
    bank: Bank, rpc_calls: list[str]
) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    first = record(bank, alice, bob, 0)
    assert not bank.kind.check_is_local(first)
    bank.kind.check(first)
    assert rpc_calls, "the first record reads the roll version, the roll and alice's nonces"
    rpc_calls.clear()
    second = record(bank, alice, bob, 1)
    assert bank.kind.check_is_local(second)
    bank.kind.check(second)
    assert rpc_calls == []


def test_a_nonce_another_acknowledged_record_holds_is_refused(bank: Bank) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    first = record(bank, alice, bob, 0)
    bank.kind.check(first)
    assert refused(bank, record(bank, alice, bob, 0, note=2)) == "NonceAlreadyUsed"
    bank.kind.check(first)  # the same record again passes: the outbox returns its receipt


def test_after_a_restart_nonces_of_records_still_queued_are_held(
    w3: Web3, system: Deployment, bank: Bank, settings: Settings
) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    queued = record(bank, alice, bob, 0)
    restarted = ServiceRelay(w3, system.timebank, system.registry, settings)
    restarted.in_flight = lambda signer: [queued.payload] if signer == alice.address else []
    bank.kind = restarted
    assert refused(bank, record(bank, alice, bob, 0, note=4)) == "NonceAlreadyUsed"
    restarted.check(queued)  # the queued record itself, sent again: its receipt is returned
    restarted.check(record(bank, alice, bob, 1))


def test_nonces_the_chain_recorded_before_the_provider_was_seen_are_refused(
    w3: Web3, system: Deployment, bank: Bank
) -> None:
    """Below the provider's nonce base and in its window: 0 and 2 landed, 1 is still free."""
    alice, bob = bank.residents[0], bank.residents[1]
    landed = [signed_record(bank, alice, bob, n)[1].as_tuple() for n in (0, 2)]
    timebank = system.timebank.functions
    send(w3, bank.admin, timebank.recordServices(bank.community, landed))
    state = timebank.nonceState(bank.community, alice.address).call()
    assert (state.nonceBase, state.window) == (1, 0b10)
    assert refused(bank, record(bank, alice, bob, 0, note=3)) == "NonceAlreadyUsed"
    assert refused(bank, record(bank, alice, bob, 2, note=3)) == "NonceAlreadyUsed"
    bank.kind.check(record(bank, alice, bob, 1))


def test_a_member_published_since_the_version_was_read_is_confirmed_on_chain(
    w3: Web3, system: Deployment, bank: Bank
) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    bank.kind.check(record(bank, alice, bob, 0))
    newcomer = Account.create()
    registry = system.registry.functions
    send(w3, bank.admin, registry.updateRoll(bank.community, [newcomer.address], [], True))
    bank.kind.check(record(bank, newcomer, alice, 0))  # the cached roll says no; the chain, yes


def test_a_removal_counts_once_the_published_version_is_read_again(
    w3: Web3, system: Deployment, bank: Bank
) -> None:
    alice, bob, carol = bank.residents[0], bank.residents[1], bank.residents[2]
    bank.kind.check(record(bank, alice, bob, 0))
    registry = system.registry.functions
    send(w3, bank.admin, registry.updateRoll(bank.community, [], [bob.address], True))
    # Within the version's time to live the removal is not seen yet (by design: the contract
    # then skips the record, NotResident) ...
    bank.kind.check(record(bank, alice, bob, 1))
    # ... and once it is read again, it is.
    bank.kind.version_ttl_s = 0.0
    assert refused(bank, record(bank, carol, bob, 0)) == "NotResident"
    assert not bank.kind.check_is_local(record(bank, alice, carol, 2))


def test_a_stranger_is_refused(bank: Bank) -> None:
    stranger = Account.create()
    assert refused(bank, record(bank, stranger, bank.residents[0], 0)) == "NotResident"
    assert refused(bank, record(bank, bank.residents[0], stranger, 0)) == "NotResident"


def test_the_roll_cache_keeps_the_newest_rolls_and_reloads_an_evicted_one(
    w3: Web3, system: Deployment, bank: Bank
) -> None:
    rolls = RollCache(w3, system.registry, keep=1)
    version = int(system.registry.functions.rollSnapshot(bank.community).call()[0])
    first = rolls.members(bank.community, version)
    assert first == {r.address.lower() for r in bank.residents}
    rolls.members(bank.community, 0)  # nothing published at version 0: empty
    assert rolls.cached(bank.community, version) is None
    assert rolls.members(bank.community, version) == first
    assert rolls.cached(bank.community, 0) is None


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("to themself", "SameParty"),
        ("no minutes", "ZeroMinutes"),
        ("nonce at the limit", "NonceTooFarAhead"),
    ],
)
def test_a_record_the_contract_can_only_skip_is_refused_when_read(
    bank: Bank, case: str, code: str
) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    body = {
        "to themself": lambda: record_body(bank, alice, alice, 0),
        "no minutes": lambda: record_body(bank, alice, bob, 0, minutes=0),
        "nonce at the limit": lambda: record_body(bank, alice, bob, 2**32 - 1),
    }[case]()
    with pytest.raises(InvalidMessage) as info:
        bank.kind.parse(body)
    assert info.value.code == code


def test_a_nonce_beyond_the_window_or_minutes_beyond_the_limits_are_refused_when_checked(
    system: Deployment, bank: Bank
) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    assert refused(bank, record(bank, alice, bob, 128)) == "NonceTooFarAhead"
    bank.kind.check(record(bank, alice, bob, 127))  # the window's last nonce
    floor, ceiling = system.timebank.functions.limitsOf(bank.community).call()
    span = ceiling - floor
    too_many = signed_record(bank, bob, alice, 0, minutes=span + 1)[0]
    assert refused(bank, too_many) == "AboveCeiling"
    bank.kind.check(signed_record(bank, bob, alice, 1, minutes=span)[0])


def test_the_digest_an_acknowledgement_names_is_the_one_both_sides_signed(bank: Bank) -> None:
    alice, bob = bank.residents[0], bank.residents[1]
    message = record(bank, alice, bob, 0)
    digest = bank.kind.signed_digest(message)
    for side, party in (("providerSig", alice), ("recipientSig", bob)):
        signature = bytes.fromhex(message.payload[side][2:])
        assert checksum_address(recover_address_bytes(digest, signature)) == party.address
