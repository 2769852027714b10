"""TimeBank: every rule, allowed and refused (the refusal names its custom error)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.hashing import keccak
from ledger.node import rpc
from ledger.signing.services import (
    COMMUNITY_ACCOUNT,
    CompactSignature,
    ServiceRecord,
    SignedRecord,
    category_code,
    record_id,
    sign_both,
    sign_reversal,
    sign_service,
)
from ledger.tx import send
from tests.contract_wrappers.timebank import BatchProof, TimeBankContract, balances_from_events
from tests.contracts.conftest import Town

NOTE = b"\x4e" * 32
REASON = b"\x52" * 32
CARE = category_code("CARE")
_next_nonce: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _fresh_nonces() -> None:
    """Each test starts from a fresh chain snapshot, so every provider's nonces start at 0."""
    _next_nonce.clear()


@contextmanager
def refused(error: str) -> Iterator[None]:
    with pytest.raises(ContractRuleBroken) as info:
        yield
    assert info.value.error == error, f"expected {error}, got {info.value}"


@pytest.fixture
def bank(w3: Web3, system: Deployment) -> TimeBankContract:
    return TimeBankContract(w3, system.timebank)


def service(provider: str, recipient: str, minutes: int, nonce: int | None = None) -> ServiceRecord:
    if nonce is None:
        nonce = _next_nonce.get(provider, 0)
        _next_nonce[provider] = nonce + 1
    return ServiceRecord(
        provider=provider,
        recipient=recipient,
        minutes_served=minutes,
        category=CARE,
        note_hash=NOTE,
        nonce=nonce,
    )


def signed(
    bank: TimeBankContract,
    town: Town,
    provider: LocalAccount,
    recipient: LocalAccount,
    minutes: int,
    nonce: int | None = None,
) -> SignedRecord:
    record = service(provider.address, recipient.address, minutes, nonce)
    return sign_both(provider, recipient, bank.domain(), town.id, record)


def total(bank: TimeBankContract, town: Town) -> int:
    holders = [COMMUNITY_ACCOUNT, *(r.address for r in town.residents), town.outsider.address]
    return sum(bank.balance_of(town.id, a) for a in holders)


# ---------------------------------------------------------------- recording


def test_record_signed_by_both_moves_minutes_to_provider(
    bank: TimeBankContract, town: Town
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 90)
    event = bank.record_service(town.residents[0], town.id, item)
    assert event.record_id == record_id(town.id, item.record)
    assert (event.provider, event.recipient, event.minutes_served) == (
        alice.address,
        bob.address,
        90,
    )
    assert bank.balance_of(town.id, alice.address) == 90
    assert bank.balance_of(town.id, bob.address) == -90
    assert total(bank, town) == 0
    assert bank.is_recorded(town.id, alice.address, item.record.nonce)


def test_record_refused_when_recipient_did_not_sign(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    record = service(alice.address, bob.address, 30)
    sig = sign_service(alice, bank.domain(), town.id, record)
    # Only the provider signed: their signature stands in for both sides.
    with refused("WrongSigner"):
        bank.record_service(alice, town.id, SignedRecord(record, sig, sig))


def test_record_refused_when_provider_did_not_sign(bank: TimeBankContract, town: Town) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    record = service(alice.address, bob.address, 30)
    item = sign_both(carol, bob, bank.domain(), town.id, record)
    with refused("WrongSigner"):
        bank.record_service(bob, town.id, item)


def test_record_refused_with_malformed_signature(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 30)
    broken = SignedRecord(
        item.record, CompactSignature(b"\x00" * 32, b"\x00" * 32), item.recipient_sig
    )
    with refused("WrongSigner"):
        bank.record_service(bob, town.id, broken)


def test_record_refused_when_signed_for_another_community(
    bank: TimeBankContract, town: Town, make_town: Callable[[], Town]
) -> None:
    other = make_town()
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 30)
    with refused("WrongSigner"):
        bank.record_service(bob, other.id, item)


def test_replayed_record_refused(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 45)
    bank.record_service(alice, town.id, item)
    with refused("NonceAlreadyUsed"):
        bank.record_service(alice, town.id, item)
    assert bank.balance_of(town.id, alice.address) == 45


def test_identical_service_with_new_nonce_counts_again(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 45))
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 45))
    assert bank.balance_of(town.id, alice.address) == 90


def test_records_may_arrive_out_of_order_within_window(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    for nonce in (2, 0, 127, 1):
        bank.record_service(alice, town.id, signed(bank, town, alice, bob, 5, nonce=nonce))
    base, window = bank.nonce_state(town.id, alice.address)
    # 0, 1 and 2 are below the base now; 127 waits in the window at offset 124.
    assert (base, window) == (3, 1 << 124)
    assert bank.free_nonces(town.id, alice.address, 2) == [3, 4]
    assert bank.is_recorded(town.id, alice.address, 1)
    assert bank.is_recorded(town.id, alice.address, 127)
    assert not bank.is_recorded(town.id, alice.address, 3)
    with refused("NonceAlreadyUsed"):
        bank.record_service(alice, town.id, signed(bank, town, alice, bob, 5, nonce=1))


def test_record_refused_beyond_nonce_window(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    with refused("NonceTooFarAhead"):
        bank.record_service(alice, town.id, signed(bank, town, alice, bob, 5, nonce=128))


def test_record_refused_for_non_resident(bank: TimeBankContract, town: Town) -> None:
    alice = town.residents[1]
    item = signed(bank, town, alice, town.outsider, 10)
    with refused("NotResident"):
        bank.record_service(alice, town.id, item)


def test_record_refused_after_member_left_roll(
    bank: TimeBankContract, town: Town, w3: Web3, system: Deployment
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    registry = system.registry.functions
    send(w3, town.admin, registry.updateRoll(town.id, [], [bob.address], True))
    with refused("NotResident"):
        bank.record_service(alice, town.id, signed(bank, town, alice, bob, 10))


def test_record_refused_for_zero_minutes(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    with refused("ZeroMinutes"):
        bank.record_service(alice, town.id, signed(bank, town, alice, bob, 0))


def test_record_refused_for_service_to_oneself(bank: TimeBankContract, town: Town) -> None:
    alice = town.residents[1]
    with refused("SameParty"):
        bank.record_service(alice, town.id, signed(bank, town, alice, alice, 10))


# ---------------------------------------------------------------- the community's account


def _community_service(
    bank: TimeBankContract,
    town: Town,
    provider: LocalAccount,
    coordinator: LocalAccount,
    minutes: int,
) -> SignedRecord:
    return sign_both(
        provider,
        coordinator,
        bank.domain(),
        town.id,
        service(provider.address, COMMUNITY_ACCOUNT, minutes),
    )


def test_service_to_community_confirmed_by_coordinator(bank: TimeBankContract, town: Town) -> None:
    alice = town.residents[1]
    bank.record_service(
        alice, town.id, _community_service(bank, town, alice, town.coordinator, 120)
    )
    assert bank.balance_of(town.id, alice.address) == 120
    assert bank.balance_of(town.id, COMMUNITY_ACCOUNT) == -120
    assert total(bank, town) == 0


def test_service_from_community_confirmed_by_coordinator(
    bank: TimeBankContract, town: Town
) -> None:
    alice = town.residents[1]
    record = service(COMMUNITY_ACCOUNT, alice.address, 30)
    item = sign_both(town.coordinator, alice, bank.domain(), town.id, record)
    bank.record_service(alice, town.id, item)
    assert bank.balance_of(town.id, alice.address) == -30
    assert bank.balance_of(town.id, COMMUNITY_ACCOUNT) == 30


def test_service_to_community_refused_without_coordinator(
    bank: TimeBankContract, town: Town
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    with refused("NotCoordinator"):
        bank.record_service(alice, town.id, _community_service(bank, town, alice, bob, 60))


def test_coordinator_cannot_confirm_own_service_to_community(
    bank: TimeBankContract, town: Town
) -> None:
    coordinator = town.coordinator
    item = _community_service(bank, town, coordinator, coordinator, 60)
    with refused("CoordinatorIsParty"):
        bank.record_service(coordinator, town.id, item)


# ---------------------------------------------------------------- limits


def test_default_limits_apply_until_admin_sets_them(bank: TimeBankContract, town: Town) -> None:
    assert bank.limits_of(town.id) == (-600, 6000)


def test_record_refused_below_floor(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 600))
    with refused("BelowFloor"):
        bank.record_service(alice, town.id, signed(bank, town, alice, bob, 1))
    assert bank.balance_of(town.id, bob.address) == -600


def test_record_refused_above_ceiling(bank: TimeBankContract, town: Town) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    bank.set_limits(town.admin, town.id, -100, 150)
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 100))
    with refused("AboveCeiling"):
        bank.record_service(alice, town.id, signed(bank, town, alice, carol, 51))
    bank.record_service(alice, town.id, signed(bank, town, alice, carol, 50))
    assert bank.balance_of(town.id, alice.address) == 150


def test_balance_outside_new_limits_may_move_back(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 500))
    bank.set_limits(town.admin, town.id, -100, 100)
    # Bob, at -500 below the new floor, may still serve (towards the range).
    bank.record_service(bob, town.id, signed(bank, town, bob, alice, 50))
    assert bank.balance_of(town.id, bob.address) == -450


def test_set_limits_refused_for_non_admin(bank: TimeBankContract, town: Town) -> None:
    with refused("NotCommunityAdmin"):
        bank.set_limits(town.coordinator, town.id, -10, 10)


@pytest.mark.parametrize(("floor", "ceiling"), [(1, 10), (-10, -1)])
def test_set_limits_refused_unless_floor_below_zero_below_ceiling(
    bank: TimeBankContract, town: Town, floor: int, ceiling: int
) -> None:
    with refused("InvalidLimits"):
        bank.set_limits(town.admin, town.id, floor, ceiling)


# ---------------------------------------------------------------- batches


def test_batch_records_good_entries_and_skips_bad_with_reason(
    bank: TimeBankContract, town: Town
) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    good1 = signed(bank, town, alice, bob, 10)
    good2 = signed(bank, town, carol, alice, 20)
    record = service(bob.address, carol.address, 30)
    one_side = SignedRecord(
        record,
        sign_service(bob, bank.domain(), town.id, record),
        sign_service(bob, bank.domain(), town.id, record),
    )
    too_much = signed(bank, town, carol, bob, 5_000)
    result = bank.record_services(
        town.residents[0], town.id, [good1, one_side, good1, good2, too_much]
    )
    assert [e.record_id for e in result.recorded] == [
        record_id(town.id, good1.record),
        record_id(town.id, good2.record),
    ]
    assert [(e.error, e.nonce) for e in result.skipped] == [
        ("WrongSigner", one_side.record.nonce),
        ("NonceAlreadyUsed", good1.record.nonce),
        ("BelowFloor", too_much.record.nonce),
    ]
    assert result.skipped[0].error_args == (carol.address, bob.address)
    assert bank.balance_of(town.id, alice.address) == 10 - 20
    assert total(bank, town) == 0


def test_batch_goes_on_in_order_after_a_record_only_the_slow_path_takes(
    bank: TimeBankContract, town: Town
) -> None:
    """Service to the community is valid but not the batch fast path's case: the records after
    it must still be read from their own place in the call, each once, in order."""
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    items = [
        signed(bank, town, alice, bob, 10),
        _community_service(bank, town, carol, town.coordinator, 40),
        signed(bank, town, bob, carol, 15),
        _community_service(bank, town, alice, town.coordinator, 5),
        _community_service(bank, town, bob, town.coordinator, 7),
        signed(bank, town, carol, alice, 20),
    ]
    result = bank.record_services(town.residents[0], town.id, items)
    assert not result.skipped
    assert [e.record_id for e in result.recorded] == [record_id(town.id, i.record) for i in items]
    assert bank.balance_of(town.id, alice.address) == 10 + 5 - 20
    assert bank.balance_of(town.id, bob.address) == -10 + 7 + 15
    assert bank.balance_of(town.id, carol.address) == 40 - 15 + 20
    assert bank.balance_of(town.id, COMMUNITY_ACCOUNT) == -(40 + 5 + 7)


def test_batch_fast_path_resumes_after_a_record_only_the_slow_path_takes(
    bank: TimeBankContract, town: Town
) -> None:
    """Gas is the only outward sign of which path judged a record, so this compares it: four
    members' records behind a service to the community cost what they cost alone, plus what that
    service costs alone. Were the fast path not to resume after it (the slow path judging the
    rest), each of the four would cost thousands more."""
    relayer, alice, bob, carol = town.residents[0], *town.residents[1:4]
    pairs = [(alice, bob), (bob, carol), (carol, alice), (alice, carol)]
    bank.record_services(relayer, town.id, [signed(bank, town, p, r, 5) for p, r in pairs])
    alone = bank.record_services(relayer, town.id, [signed(bank, town, p, r, 5) for p, r in pairs])
    single = bank.contract.functions.recordService(
        town.id, _community_service(bank, town, carol, town.coordinator, 5).as_tuple()
    )
    single_gas = single.estimate_gas({"from": relayer.address})
    behind = bank.record_services(
        relayer,
        town.id,
        [
            _community_service(bank, town, carol, town.coordinator, 5),
            *(signed(bank, town, p, r, 5) for p, r in pairs),
        ],
    )
    assert len(behind.recorded) == 5
    assert behind.gas_used < alone.gas_used + (single_gas - 21_000) + 3_000


def test_batch_asks_the_roll_again_once_a_new_version_is_published(
    bank: TimeBankContract, town: Town, w3: Web3, system: Deployment
) -> None:
    """A batch trusts the roll version a member's word was stamped with only while that version
    is the published one: a staged removal changes nothing, its publication does."""
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    relayer = town.residents[0]
    registry = system.registry.functions
    assert bank.record_services(relayer, town.id, [signed(bank, town, alice, bob, 10)]).recorded
    send(w3, town.admin, registry.updateRoll(town.id, [], [bob.address], False))
    staged = bank.record_services(relayer, town.id, [signed(bank, town, bob, alice, 5)])
    assert len(staged.recorded) == 1, "bob is on the published roll until the removal is published"
    send(w3, town.admin, registry.publishRoll(town.id))
    to_bob = signed(bank, town, alice, bob, 10)
    by_bob = signed(bank, town, bob, carol, 10)
    still_here = signed(bank, town, alice, carol, 10)
    result = bank.record_services(relayer, town.id, [to_bob, by_bob, still_here])
    assert [(e.error, e.provider) for e in result.skipped] == [
        ("NotResident", alice.address),
        ("NotResident", bob.address),
    ]
    assert [e.record_id for e in result.recorded] == [record_id(town.id, still_here.record)]
    assert bank.balance_of(town.id, bob.address) == -10 + 5


def test_batch_before_any_roll_is_published_records_nobody(
    bank: TimeBankContract, town: Town, w3: Web3, system: Deployment
) -> None:
    """Roll version 0 must not match the zero stamp of a never-touched account."""
    alice, bob = town.residents[1], town.residents[2]
    receipt = send(w3, alice, system.registry.functions.createCommunity(b"\x12" * 32))
    (created,) = system.registry.events.CommunityCreated().process_receipt(receipt)
    unrolled = int(created["args"]["communityId"])
    record = service(alice.address, bob.address, 10)
    item = sign_both(alice, bob, bank.domain(), unrolled, record)
    result = bank.record_services(town.residents[0], unrolled, [item])
    assert [e.error for e in result.skipped] == ["NotResident"]
    assert bank.balance_of(unrolled, alice.address) == 0


def _account_slot(w3: Web3, bank: TimeBankContract, town: Town, member: LocalAccount) -> int:
    """The storage slot of `member`'s account word, found rather than assumed: the mapping whose
    entry for `member` holds the word `nonceState` reads."""
    wanted = bank.nonce_state(town.id, member.address)
    assert wanted != (0, 0), "the member needs a recorded service first"
    for index in range(16):
        inner = Web3.keccak(town.id.to_bytes(32, "big") + index.to_bytes(32, "big"))
        slot = int.from_bytes(Web3.keccak(bytes(12) + bytes.fromhex(member.address[2:]) + inner))
        word = int(rpc(w3, "eth_getStorageAt", [bank.contract.address, hex(slot), "latest"]), 16)
        if ((word >> 128) & (2**32 - 1), word & (2**128 - 1)) == wanted:
            return slot
    raise AssertionError("no account word found")


def test_nonces_stop_below_the_32_bit_base(bank: TimeBankContract, town: Town, w3: Web3) -> None:
    """nonceBase has 32 bits in the account word: the last nonce it can pass is 2**32 - 2."""
    alice, bob = town.residents[1], town.residents[2]
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 10))
    # Only a chain edit gets there (4 billion records otherwise): base 2**32 - 2, balance 0.
    word = (2**32 - 2) << 128
    rpc(
        w3,
        "anvil_setStorageAt",
        [bank.contract.address, hex(_account_slot(w3, bank, town, alice)), f"0x{word:064x}"],
    )
    assert bank.nonce_state(town.id, alice.address) == (2**32 - 2, 0)
    last = signed(bank, town, alice, bob, 10, nonce=2**32 - 2)
    beyond = signed(bank, town, alice, bob, 10, nonce=2**32 - 1)
    result = bank.record_services(town.residents[0], town.id, [last, beyond])
    assert [e.record_id for e in result.recorded] == [record_id(town.id, last.record)]
    assert [e.error for e in result.skipped] == ["NonceTooFarAhead"]
    assert bank.nonce_state(town.id, alice.address) == (2**32 - 1, 0)
    with refused("NonceTooFarAhead"):
        bank.record_service(alice, town.id, beyond)


# ---------------------------------------------------------------- reversals


def _reverse(
    bank: TimeBankContract,
    town: Town,
    item: SignedRecord,
    provider: LocalAccount,
    recipient: LocalAccount,
) -> None:
    rid = record_id(town.id, item.record)
    domain = bank.domain()
    bank.reverse_service(
        provider,
        town.id,
        item.record,
        REASON,
        sign_reversal(provider, domain, rid, REASON),
        sign_reversal(recipient, domain, rid, REASON),
    )


def test_reversal_signed_by_both_restores_balances(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 75)
    bank.record_service(alice, town.id, item)
    _reverse(bank, town, item, alice, bob)
    assert bank.balance_of(town.id, alice.address) == 0
    assert bank.balance_of(town.id, bob.address) == 0
    assert bank.is_reversed(town.id, alice.address, item.record.nonce)
    # The original stays recorded: nothing is edited or deleted.
    assert bank.is_recorded(town.id, alice.address, item.record.nonce)


def test_reversal_refused_twice(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 75)
    bank.record_service(alice, town.id, item)
    _reverse(bank, town, item, alice, bob)
    with refused("AlreadyReversed"):
        _reverse(bank, town, item, alice, bob)


def test_reversal_refused_for_unrecorded_service(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 75)
    with refused("RecordNotFound"):
        _reverse(bank, town, item, alice, bob)


def test_reversal_refused_when_one_side_did_not_sign(bank: TimeBankContract, town: Town) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    item = signed(bank, town, alice, bob, 75)
    bank.record_service(alice, town.id, item)
    with refused("WrongSigner"):
        _reverse(bank, town, item, alice, carol)


def test_reversal_refused_when_it_would_break_floor(bank: TimeBankContract, town: Town) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    item = signed(bank, town, alice, bob, 300)
    bank.record_service(alice, town.id, item)
    bank.record_service(carol, town.id, signed(bank, town, carol, alice, 600))
    # Alice is at -300: taking the 300 back would put her at -600, below a floor of -500.
    bank.set_limits(town.admin, town.id, -500, 6000)
    with refused("BelowFloor"):
        _reverse(bank, town, item, alice, bob)


def test_a_reversal_breaking_both_limits_names_the_ceiling(
    bank: TimeBankContract, town: Town
) -> None:
    """Credit before debit, as for a record: the original recipient's ceiling is judged first
    (the stateful model had the order the other way round for reversals)."""
    alice, bob, carol, dave = town.residents[1:5]
    bank.set_limits(town.admin, town.id, -1000, 1000)
    item = signed(bank, town, alice, bob, 300)
    bank.record_service(alice, town.id, item)
    bank.record_service(carol, town.id, signed(bank, town, carol, alice, 600))
    bank.record_service(bob, town.id, signed(bank, town, bob, dave, 600))
    # Alice is at -300 and Bob at +300: the reversal would take Alice to -600 and Bob to +600.
    bank.set_limits(town.admin, town.id, -500, 500)
    with refused("AboveCeiling"):
        _reverse(bank, town, item, alice, bob)


def _reversal_sigs(
    bank: TimeBankContract, town: Town, record: ServiceRecord, *signers: LocalAccount
) -> tuple[CompactSignature, CompactSignature]:
    rid = record_id(town.id, record)
    first, second = (sign_reversal(s, bank.domain(), rid, REASON) for s in signers)
    return first, second


def test_batch_commits_to_the_ids_it_recorded_in_order_from_both_paths(
    bank: TimeBankContract, town: Town
) -> None:
    """Fast-path records, a slow-path record (service to the community) and skipped records in
    one batch: the root is the hash of exactly the recorded ids, in event order."""
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    good = signed(bank, town, alice, bob, 10)
    items = [
        good,
        _community_service(bank, town, carol, town.coordinator, 40),
        good,  # a replay: skipped, not committed
        signed(bank, town, bob, carol, 0),  # skipped
        signed(bank, town, carol, alice, 20),
    ]
    before = bank.contract.functions.batchCount().call()
    result = bank.record_services(town.residents[0], town.id, items)
    ids = [e.record_id for e in result.recorded]
    assert ids == [record_id(town.id, items[i].record) for i in (0, 1, 4)]
    assert result.batch is not None
    assert (result.batch.batch_id, result.batch.count) == (before + 1, 3)
    assert result.batch.root == keccak(b"".join(ids))
    assert bank.contract.functions.batchRoot(before + 1).call() == keccak(b"".join(ids))


def test_single_record_is_a_batch_of_one(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 10)
    bank.record_service(alice, town.id, item)
    proof = bank.batch_proof(town.id, item.record)
    assert proof is not None
    assert proof.record_ids == (record_id(town.id, item.record),)
    assert bank.contract.functions.batchRoot(proof.batch_id).call() == keccak(proof.record_ids[0])


def test_batch_that_records_nothing_commits_nothing(bank: TimeBankContract, town: Town) -> None:
    alice, bob = town.residents[1], town.residents[2]
    before = bank.contract.functions.batchCount().call()
    result = bank.record_services(alice, town.id, [signed(bank, town, alice, bob, 0)])
    assert result.batch is None
    assert bank.contract.functions.batchCount().call() == before


def test_reversal_of_a_record_inside_a_batch_restores_balances(
    bank: TimeBankContract, town: Town
) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    items = [signed(bank, town, carol, bob, 5), signed(bank, town, alice, bob, 30)]
    items.append(_community_service(bank, town, alice, town.coordinator, 8))
    bank.record_services(carol, town.id, items)
    _reverse(bank, town, items[1], alice, bob)
    assert bank.balance_of(town.id, alice.address) == 8
    assert bank.balance_of(town.id, bob.address) == -5
    # The slow path's record is committed too.
    _reverse(bank, town, items[2], alice, town.coordinator)
    assert bank.balance_of(town.id, alice.address) == 0


def test_reversal_refused_when_original_differs_from_the_recorded_record(
    bank: TimeBankContract, town: Town
) -> None:
    """Alice's real nonce, a made-up recipient and minutes, signed by both: the batch of the
    real record holds another id."""
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    real = signed(bank, town, alice, bob, 10)
    bank.record_service(alice, town.id, real)
    proof = bank.batch_proof(town.id, real.record)
    assert proof is not None
    fake = service(alice.address, carol.address, 200, nonce=real.record.nonce)
    sigs = _reversal_sigs(bank, town, fake, alice, carol)
    with refused("RecordNotInBatch"):
        bank.reverse_service(alice, town.id, fake, REASON, *sigs, proof=proof)
    with refused("BatchRootMismatch"):
        bank.reverse_service(alice, town.id, fake, REASON, *sigs)  # no batch holds it
    forged = BatchProof(proof.batch_id, (record_id(town.id, fake),), 0)
    with refused("BatchRootMismatch"):
        bank.reverse_service(alice, town.id, fake, REASON, *sigs, proof=forged)
    assert bank.balance_of(town.id, carol.address) == 0
    assert bank.balance_of(town.id, alice.address) == 10


def test_reversal_refused_when_the_proof_points_at_another_index(
    bank: TimeBankContract, town: Town
) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    items = [signed(bank, town, alice, bob, 10), signed(bank, town, carol, bob, 20)]
    bank.record_services(alice, town.id, items)
    proof = bank.batch_proof(town.id, items[0].record)
    assert proof is not None and proof.index == 0
    sigs = _reversal_sigs(bank, town, items[0].record, alice, bob)
    for index in (1, 2):
        moved = BatchProof(proof.batch_id, proof.record_ids, index)
        with refused("RecordNotInBatch"):
            bank.reverse_service(alice, town.id, items[0].record, REASON, *sigs, proof=moved)


def test_reversal_refused_for_a_party_never_on_the_roll(bank: TimeBankContract, town: Town) -> None:
    """A resident and an outsider sign the reversal of a record that never was (the resident's
    real nonce, the outsider as recipient): nobody off the roll takes part in a reversal."""
    alice, bob, outsider = town.residents[1], town.residents[2], town.outsider
    bank.record_service(alice, town.id, signed(bank, town, alice, bob, 10))
    fake = service(alice.address, outsider.address, 200, nonce=0)
    with refused("NotResident"):
        bank.reverse_service(
            alice, town.id, fake, REASON, *_reversal_sigs(bank, town, fake, alice, outsider)
        )
    assert bank.balance_of(town.id, outsider.address) == 0


def test_reversal_refused_after_a_party_left_the_roll(
    bank: TimeBankContract, town: Town, w3: Web3, system: Deployment
) -> None:
    alice, bob = town.residents[1], town.residents[2]
    item = signed(bank, town, alice, bob, 10)
    bank.record_service(alice, town.id, item)
    registry = system.registry.functions
    send(w3, town.admin, registry.updateRoll(town.id, [], [bob.address], True))
    with refused("NotResident"):
        _reverse(bank, town, item, alice, bob)
    # Back on the roll, the mistake can be fixed.
    send(w3, town.admin, registry.updateRoll(town.id, [bob.address], [], True))
    _reverse(bank, town, item, alice, bob)
    assert bank.balance_of(town.id, bob.address) == 0


def test_events_rebuild_every_balance(bank: TimeBankContract, town: Town) -> None:
    alice, bob, carol = town.residents[1], town.residents[2], town.residents[3]
    first = signed(bank, town, alice, bob, 40)
    bank.record_services(alice, town.id, [first, signed(bank, town, bob, carol, 25)])
    bank.record_service(alice, town.id, _community_service(bank, town, carol, town.coordinator, 15))
    _reverse(bank, town, first, alice, bob)
    rebuilt = balances_from_events(bank.events())
    for account in (COMMUNITY_ACCOUNT, alice.address, bob.address, carol.address):
        assert rebuilt.get((town.id, Web3.to_checksum_address(account)), 0) == bank.balance_of(
            town.id, account
        )
    assert sum(v for (c, _), v in rebuilt.items() if c == town.id) == 0
