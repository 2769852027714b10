"""A lost or replaced phone: the registrar replaces a resident's key (Registry.replaceResident)
and carries the time-bank balance over to the new key (TimeBank.carryOver). Every rule, allowed
and refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.signing.services import (
    COMMUNITY_ACCOUNT,
    ServiceRecord,
    SignedRecord,
    category_code,
    sign_both,
)
from ledger.tx import ErrorDecoder, send
from tests.contract_wrappers.timebank import TimeBankContract
from tests.contracts.conftest import ProposalFactory, Town

NOTE = b"\x4e" * 32
CARE = category_code("CARE")


@pytest.fixture
def decoder(system: Deployment) -> ErrorDecoder:
    return ErrorDecoder(c.abi for c in system.contracts.values())


@pytest.fixture
def bank(w3: Web3, system: Deployment, decoder: ErrorDecoder) -> TimeBankContract:
    return TimeBankContract(w3, system.timebank, decoder)


@pytest.fixture
def new_phone(w3: Web3) -> LocalAccount:
    """A key made fresh on a new phone: never on any roll (given ether to send with)."""
    account: LocalAccount = w3.eth.account.from_key(b"\x5a" * 32)
    rpc(w3, "anvil_setBalance", [account.address, hex(10**18)])
    return account


class Refusal:
    """What the contract refused with, filled in once the block has raised."""

    args_: tuple[Any, ...] = ()


@contextmanager
def refused(error: str) -> Iterator[Refusal]:
    found = Refusal()
    with pytest.raises(ContractRuleBroken) as info:
        yield found
    assert info.value.error == error, f"expected {error}, got {info.value}"
    found.args_ = tuple(
        Web3.to_checksum_address(a) if isinstance(a, str) and len(a) == 42 else a
        for a in info.value.args_
    )


class Rotation:
    """The two registrar calls, sent from `by` (the town's registrar unless said otherwise)."""

    def __init__(self, w3: Web3, system: Deployment, decoder: ErrorDecoder, town: Town) -> None:
        self.w3, self.system, self.decoder, self.town = w3, system, decoder, town

    def replace(self, old: str, new: str, by: LocalAccount | None = None) -> TxReceipt:
        call = self.system.registry.functions.replaceResident(self.town.id, old, new)
        return send(self.w3, by or self.town.admin, call, decoder=self.decoder)

    def carry_over(self, old: str, by: LocalAccount | None = None) -> TxReceipt:
        call = self.system.timebank.functions.carryOver(self.town.id, old)
        return send(self.w3, by or self.town.admin, call, decoder=self.decoder)

    def replacement_of(self, account: str) -> str:
        found: str = self.system.registry.functions.newKeyOf(self.town.id, account).call()
        return found

    def is_resident(self, account: str) -> bool:
        return bool(self.system.registry.functions.isResident(self.town.id, account).call())


@pytest.fixture
def rotation(w3: Web3, system: Deployment, decoder: ErrorDecoder, town: Town) -> Rotation:
    return Rotation(w3, system, decoder, town)


_nonces: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _fresh_nonces() -> None:
    _nonces.clear()


def signed(
    bank: TimeBankContract,
    town: Town,
    provider: LocalAccount,
    recipient: LocalAccount,
    minutes: int,
) -> SignedRecord:
    nonce = _nonces.get(provider.address, 0)
    _nonces[provider.address] = nonce + 1
    record = ServiceRecord(provider.address, recipient.address, minutes, CARE, NOTE, nonce)
    return sign_both(provider, recipient, bank.domain(), town.id, record)


def holders_total(bank: TimeBankContract, town: Town, *more: str) -> int:
    holders = [COMMUNITY_ACCOUNT, *(r.address for r in town.residents), *more]
    return sum(bank.balance_of(town.id, a) for a in holders)


def event_args(contract: Any, name: str, receipt: TxReceipt) -> dict[str, Any]:
    (event,) = contract.events[name]().process_receipt(receipt, errors=DISCARD)
    return dict(event["args"])


# ---------------------------------------------------------------- the rotation recorded


def test_replacement_recorded_and_roll_swapped_in_the_new_version(
    rotation: Rotation, system: Deployment, town: Town, new_phone: LocalAccount
) -> None:
    alice = town.residents[1]
    before, size = system.registry.functions.rollSnapshot(town.id).call()
    receipt = rotation.replace(alice.address, new_phone.address)
    replaced = event_args(system.registry, "ResidentReplaced", receipt)
    assert replaced == {
        "communityId": town.id,
        "oldAccount": alice.address,
        "newAccount": new_phone.address,
        "registrar": town.admin.address,
        "version": before + 1,
    }
    updated = event_args(system.registry, "RollUpdated", receipt)
    assert (updated["added"], updated["removed"]) == ([new_phone.address], [alice.address])
    assert tuple(system.registry.functions.rollSnapshot(town.id).call()) == (before + 1, size)
    assert rotation.replacement_of(alice.address) == new_phone.address
    assert not rotation.is_resident(alice.address)
    assert rotation.is_resident(new_phone.address)
    # A proposal snapshotted before judges by its version: the old key was on it, the new one not.
    was = system.registry.functions.wasResident
    assert was(town.id, alice.address, before).call()
    assert not was(town.id, new_phone.address, before).call()


def test_proposal_opened_before_the_rotation_counts_the_old_key_not_the_new(
    rotation: Rotation,
    system: Deployment,
    town: Town,
    new_phone: LocalAccount,
    make_proposal: ProposalFactory,
    w3: Web3,
) -> None:
    alice = town.residents[5]  # one who has not voted in an "open" proposal
    proposal = make_proposal(town, outcome="open")
    rotation.replace(alice.address, new_phone.address)
    later = make_proposal(town, outcome="open")
    vote = system.council.functions.castVote
    with refused("VoterNotOnRoll"):
        send(w3, new_phone, vote(proposal, 0), decoder=rotation.decoder)
    send(w3, alice, vote(proposal, 0), decoder=rotation.decoder)
    # A proposal opened after it: the new key votes, the old one is off the roll.
    send(w3, new_phone, vote(later, 0), decoder=rotation.decoder)
    with refused("VoterNotOnRoll"):
        send(w3, alice, vote(later, 0), decoder=rotation.decoder)


def test_replacement_refused_for_non_registrar(
    rotation: Rotation, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    with refused("MissingRole"):
        rotation.replace(alice.address, new_phone.address, by=bob)
    with refused("MissingRole"):
        rotation.replace(alice.address, new_phone.address, by=alice)


def test_replacement_refused_for_a_key_not_on_the_roll(
    rotation: Rotation, town: Town, new_phone: LocalAccount
) -> None:
    with refused("NotOnRoll"):
        rotation.replace(town.outsider.address, new_phone.address)


def test_replacement_refused_for_a_key_that_left_the_roll(
    rotation: Rotation, w3: Web3, system: Deployment, town: Town, new_phone: LocalAccount
) -> None:
    bob = town.residents[2]
    send(w3, town.admin, system.registry.functions.updateRoll(town.id, [], [bob.address], True))
    with refused("NotOnRoll"):
        rotation.replace(bob.address, new_phone.address)


def test_replacement_refused_when_new_key_is_on_the_roll(rotation: Rotation, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    with refused("ReplacementKeyNotFresh"):
        rotation.replace(alice.address, bob.address)


def test_replacement_refused_when_new_key_was_ever_on_the_roll(
    rotation: Rotation, w3: Web3, system: Deployment, town: Town
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    # Bob leaves (with whatever time-bank history he had): his key cannot take over Alice's.
    send(w3, town.admin, system.registry.functions.updateRoll(town.id, [], [bob.address], True))
    with refused("ReplacementKeyNotFresh"):
        rotation.replace(alice.address, bob.address)


def test_replacement_refused_for_the_zero_address(rotation: Rotation, town: Town) -> None:
    with refused("ZeroAddress"):
        rotation.replace(town.residents[1].address, "0x" + "00" * 20)


def test_double_replacement_refused(
    rotation: Rotation, w3: Web3, town: Town, new_phone: LocalAccount
) -> None:
    alice = town.residents[1]
    rotation.replace(alice.address, new_phone.address)
    third = w3.eth.account.from_key(b"\x5b" * 32)
    with refused("KeyAlreadyReplaced") as error:
        rotation.replace(alice.address, third.address)
    assert error.args_ == (town.id, alice.address, new_phone.address)
    # The new key is the resident now and can itself be replaced (a second lost phone).
    rotation.replace(new_phone.address, third.address)
    assert rotation.is_resident(third.address)


def test_replaced_key_cannot_rejoin_the_roll(
    rotation: Rotation, w3: Web3, system: Deployment, town: Town, new_phone: LocalAccount
) -> None:
    alice = town.residents[1]
    rotation.replace(alice.address, new_phone.address)
    with refused("KeyAlreadyReplaced"):
        send(
            w3,
            town.admin,
            system.registry.functions.updateRoll(town.id, [alice.address], [], True),
            decoder=rotation.decoder,
        )


# ---------------------------------------------------------------- the balance carried over


def test_balance_follows_the_new_key_and_sum_stays_zero(
    rotation: Rotation,
    bank: TimeBankContract,
    system: Deployment,
    town: Town,
    new_phone: LocalAccount,
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 90))
    rotation.replace(alice.address, new_phone.address)
    receipt = rotation.carry_over(alice.address)
    assert event_args(system.timebank, "BalanceCarriedOver", receipt) == {
        "communityId": town.id,
        "oldAccount": alice.address,
        "newAccount": new_phone.address,
        "minutesMoved": 90,
        "registrar": town.admin.address,
    }
    assert bank.balance_of(town.id, new_phone.address) == 90
    assert bank.balance_of(town.id, alice.address) == 0
    assert holders_total(bank, town, new_phone.address) == 0
    assert system.timebank.functions.isRetired(town.id, alice.address).call()
    # The new key carries on as the resident: it earns and spends as anyone does.
    bank.record_service(new_phone, town.id, signed(bank, town, new_phone, bob, 30))
    assert bank.balance_of(town.id, new_phone.address) == 120


def test_debt_follows_the_new_key(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(bob, town.id, signed(bank, town, bob, alice, 45))
    rotation.replace(alice.address, new_phone.address)
    rotation.carry_over(alice.address)
    assert bank.balance_of(town.id, new_phone.address) == -45
    assert holders_total(bank, town, new_phone.address) == 0


def test_carry_over_refused_without_a_recorded_rotation(
    rotation: Rotation, bank: TimeBankContract, town: Town
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 90))
    with refused("RotationNotRecorded"):
        rotation.carry_over(alice.address)
    assert bank.balance_of(town.id, alice.address) == 90


def test_carry_over_refused_for_non_registrar(
    rotation: Rotation, town: Town, new_phone: LocalAccount
) -> None:
    alice = town.residents[1]
    rotation.replace(alice.address, new_phone.address)
    with refused("NotRegistrar"):
        rotation.carry_over(alice.address, by=new_phone)
    with refused("NotRegistrar"):
        rotation.carry_over(alice.address, by=town.residents[2])


def test_second_carry_over_refused(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 90))
    rotation.replace(alice.address, new_phone.address)
    rotation.carry_over(alice.address)
    with refused("AlreadyCarriedOver"):
        rotation.carry_over(alice.address)
    assert bank.balance_of(town.id, new_phone.address) == 90


def test_carry_over_adds_to_what_the_new_key_did_since_the_rotation(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 90))
    rotation.replace(alice.address, new_phone.address)
    bank.record_service(new_phone, town.id, signed(bank, town, new_phone, bob, 10))
    rotation.carry_over(alice.address)
    assert bank.balance_of(town.id, new_phone.address) == 100


# ---------------------------------------------------------------- the old key retired


def test_old_key_signing_after_rotation_refused_as_retired(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    # Signed by both before the phone was lost, relayed after: refused, it must be signed again.
    pending = signed(bank, town, alice, bob, 20)
    rotation.replace(alice.address, new_phone.address)
    rotation.carry_over(alice.address)
    with refused("KeyRetired") as error:
        bank.record_service(bob, town.id, pending)
    assert error.args_ == (town.id, alice.address, new_phone.address)
    with refused("KeyRetired"):
        bank.record_service(bob, town.id, signed(bank, town, bob, alice, 5))
    (skipped,) = bank.record_services(bob, town.id, [pending]).skipped
    assert skipped.error == "KeyRetired"
    assert bank.balance_of(town.id, alice.address) == 0


def test_old_key_refused_as_retired_before_the_carry_over_too(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    rotation.replace(alice.address, new_phone.address)
    with refused("KeyRetired"):
        bank.record_service(bob, town.id, signed(bank, town, alice, bob, 20))


def test_old_key_replay_still_refused_by_nonce(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 20)
    bank.record_service(alice, town.id, item)
    rotation.replace(alice.address, new_phone.address)
    rotation.carry_over(alice.address)
    assert bank.is_recorded(town.id, alice.address, item.record.nonce)
    assert bank.nonce_state(town.id, alice.address)[0] == 1


# ---------------------------------------------------------------- property


@given(
    services=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 120)),
        min_size=1,
        max_size=8,
    ),
    lost=st.integers(0, 5),
    after=st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 120)),
        max_size=4,
    ),
)
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_any_services_then_rotation_keep_the_balance_and_the_zero_sum(
    w3: Web3,
    rotation: Rotation,
    bank: TimeBankContract,
    town: Town,
    new_phone: LocalAccount,
    services: list[tuple[int, int, int]],
    lost: int,
    after: list[tuple[int, int, int]],
) -> None:
    snapshot = rpc(w3, "evm_snapshot")
    _nonces.clear()
    try:
        people = town.residents[1:]
        for p, r, minutes in services:
            provider, recipient = people[p % len(people)], people[r % len(people)]
            if provider == recipient:
                continue
            bank.record_services(
                provider, town.id, [signed(bank, town, provider, recipient, minutes)]
            )
        owner = people[lost % len(people)]
        balances = {a.address: bank.balance_of(town.id, a.address) for a in people}
        rotation.replace(owner.address, new_phone.address)
        rotation.carry_over(owner.address)
        assert bank.balance_of(town.id, new_phone.address) == balances[owner.address]
        assert bank.balance_of(town.id, owner.address) == 0
        for account in people:
            if account != owner:
                assert bank.balance_of(town.id, account.address) == balances[account.address]
        assert holders_total(bank, town, new_phone.address) == 0
        # Then more services, the new key in the owner's place: the old key's are all skipped
        # as KeyRetired, and a shadow of the balances stays exact and sums to zero.
        shadow = {a.address: bank.balance_of(town.id, a.address) for a in people}
        shadow[owner.address], shadow[new_phone.address] = 0, balances[owner.address]
        now = [new_phone if a == owner else a for a in people]
        for p, r, minutes in after:
            provider, recipient = now[p % len(now)], now[r % len(now)]
            if provider == recipient:
                continue
            batch = [signed(bank, town, provider, recipient, minutes)]
            if p % 2:  # and the old key tries too
                other = recipient if recipient != new_phone else provider
                batch.append(signed(bank, town, owner, other, 5))
            result = bank.record_services(provider, town.id, batch)
            refused = [s.error for s in result.skipped if s.provider == owner.address]
            assert refused == ["KeyRetired"] * (len(batch) - 1)
            for rec in result.recorded:
                assert rec.provider != owner.address and rec.recipient != owner.address
                shadow[rec.provider] += rec.minutes_served
                shadow[rec.recipient] -= rec.minutes_served
        for address, minutes in shadow.items():
            assert bank.balance_of(town.id, address) == minutes
        assert bank.balance_of(town.id, owner.address) == 0
        assert holders_total(bank, town, new_phone.address) == 0
    finally:
        rpc(w3, "evm_revert", [snapshot])


def test_rotation_costs_what_was_measured(
    rotation: Rotation, bank: TimeBankContract, town: Town, new_phone: LocalAccount
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 90))
    # Measured as direct transactions: 117,802 and 61,486 gas.
    assert rotation.replace(alice.address, new_phone.address)["gasUsed"] <= 118_000
    assert rotation.carry_over(alice.address)["gasUsed"] <= 61_700
