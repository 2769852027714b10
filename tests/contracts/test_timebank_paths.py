"""TimeBank's two ways of judging a record must agree: the batch fast path (assembly, `_fastRun`)
and the Solidity slow path (`_verify`, `_apply`).

Each example takes one malformed or edge record and judges it twice from the same chain state:
alone (`recordService`: the fast path declines anything it cannot show valid and the slow path
names the broken rule) and in the middle of a batch, where the fast path meets it warm, right
after records it took and before one it must still take. Both outcomes must be the same (recorded,
or refused / skipped with the same error and arguments) and must be what the rules say: a fast
path that took a record the rules refuse would be taken alone too, so the rule named for each
kind of fault is the third witness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.signing.secp256k1 import SECP256K1_N
from ledger.signing.services import (
    COMMUNITY_ACCOUNT,
    CompactSignature,
    ServiceRecord,
    SignedRecord,
    category_code,
    sign_both,
    sign_service,
)
from tests.contract_wrappers.timebank import TimeBankContract
from tests.contracts.conftest import Town

Outcome = tuple[str, tuple[Any, ...]]  # ("recorded", ()) or (error, args)
RECORDED: Outcome = ("recorded", ())
TOP_BIT = 1 << 255


@dataclass(frozen=True)
class Parties:
    bank: TimeBankContract
    town: Town

    @property
    def provider(self) -> LocalAccount:
        return self.town.residents[1]

    @property
    def recipient(self) -> LocalAccount:
        return self.town.residents[2]

    def record(self, minutes: int, nonce: int, recipient: str | None = None) -> ServiceRecord:
        return ServiceRecord(
            self.provider.address,
            recipient or self.recipient.address,
            minutes,
            category_code("FIX"),
            b"\x21" * 32,
            nonce,
        )

    def both(self, record: ServiceRecord, recipient: LocalAccount | None = None) -> SignedRecord:
        other = recipient or self.recipient
        return sign_both(self.provider, other, self.bank.domain(), self.town.id, record)


def _flip_v(sig: CompactSignature) -> CompactSignature:
    return CompactSignature(sig.r, (int.from_bytes(sig.vs, "big") ^ TOP_BIT).to_bytes(32, "big"))


def _high_s(sig: CompactSignature, x: int) -> CompactSignature:
    """An s above n/2 (and below 2^255, which EIP-2098's form can carry), parity kept."""
    vs = int.from_bytes(sig.vs, "big")
    s = SECP256K1_N // 2 + 1 + x % (TOP_BIT - SECP256K1_N // 2 - 1)
    return CompactSignature(sig.r, (s | (vs & TOP_BIT)).to_bytes(32, "big"))


def _fault(kind: str, p: Parties, x: int) -> tuple[SignedRecord, Outcome]:
    """A record with fault `kind` (x varies it), fresh nonce 10 + x % 50, and what the rules say."""
    nonce = 10 + x % 50
    cid, a, b = p.town.id, p.provider.address, p.recipient.address
    good = p.both(p.record(30, nonce))
    if kind == "valid":
        return good, RECORDED
    if kind == "zero_minutes":
        return p.both(p.record(0, nonce)), ("ZeroMinutes", ())
    if kind == "same_party":
        rec = p.record(30, nonce, recipient=a)
        return p.both(rec, recipient=p.provider), ("SameParty", (a,))
    if kind == "provider_bad_v":
        item = replace(good, provider_sig=_flip_v(good.provider_sig))
        return item, ("WrongSigner", (a, "?"))
    if kind == "recipient_high_s":
        item = replace(good, recipient_sig=_high_s(good.recipient_sig, x))
        return item, ("WrongSigner", (b, COMMUNITY_ACCOUNT))
    if kind == "provider_r_zero":
        item = replace(good, provider_sig=CompactSignature(b"\x00" * 32, good.provider_sig.vs))
        return item, ("WrongSigner", (a, COMMUNITY_ACCOUNT))
    if kind == "swapped_signatures":
        item = replace(good, provider_sig=good.recipient_sig, recipient_sig=good.provider_sig)
        return item, ("WrongSigner", (a, b))
    if kind == "nonce_beyond_window":
        far = 3 + 128 + x % 1000  # the base is 3 after the prefix
        return p.both(p.record(30, far)), ("NonceTooFarAhead", (cid, a, far, 3))
    if kind == "nonce_beyond_32_bits":
        huge = (2**32 - 1) + x * 7919 if x % 3 else 2**256 - 1 - x
        return p.both(p.record(30, huge)), ("NonceTooFarAhead", (cid, a, huge, 3))
    if kind == "nonce_reused":
        return p.both(p.record(45, 1)), ("NonceAlreadyUsed", (cid, a, 1))
    if kind == "minutes_beyond_ceiling":
        minutes = 6001 + x * 104_729 % (2**32 - 6001)
        # The provider holds 20 (the prefix below) before this record.
        return p.both(p.record(minutes, nonce)), ("AboveCeiling", (cid, a, 20 + minutes, 6000))
    if kind == "minutes_beyond_floor":
        minutes = 621 + x % 5000  # the recipient holds -20
        return p.both(p.record(minutes, nonce)), ("BelowFloor", (cid, b, -20 - minutes, -600))
    if kind == "wrong_community":
        rec = p.record(30, nonce)
        domain = p.bank.domain()
        sigs = [sign_service(s, domain, cid + 1 + x % 3, rec) for s in (p.provider, p.recipient)]
        return SignedRecord(rec, *sigs), ("WrongSigner", (a, "?"))
    if kind == "recipient_off_roll":
        outsider = p.town.outsider
        rec = p.record(30, nonce, recipient=outsider.address)
        return p.both(rec, recipient=outsider), ("NotResident", (cid, outsider.address))
    if kind == "community_without_coordinator":
        rec = p.record(30, nonce, recipient=COMMUNITY_ACCOUNT)
        signer = p.town.residents[3]
        return p.both(rec, recipient=signer), ("NotCoordinator", (cid, signer.address))
    if kind == "community_with_coordinator":
        rec = p.record(30, nonce, recipient=COMMUNITY_ACCOUNT)
        return p.both(rec, recipient=p.town.coordinator), RECORDED
    raise AssertionError(kind)


KINDS = [
    "valid",
    "zero_minutes",
    "same_party",
    "provider_bad_v",
    "recipient_high_s",
    "provider_r_zero",
    "swapped_signatures",
    "nonce_beyond_window",
    "nonce_beyond_32_bits",
    "nonce_reused",
    "minutes_beyond_ceiling",
    "minutes_beyond_floor",
    "wrong_community",
    "recipient_off_roll",
    "community_without_coordinator",
    "community_with_coordinator",
]


def _prefix(p: Parties) -> list[SignedRecord]:
    """Records the fast path takes before it meets the fault: the provider's nonces 0-2 (the
    base becomes 3), provider +20, recipient -20."""
    return [p.both(p.record(m, n)) for n, m in ((0, 5), (1, 10), (2, 5))]


def _after(p: Parties) -> SignedRecord:
    return sign_both(
        p.town.residents[3],
        p.town.residents[4],
        p.bank.domain(),
        p.town.id,
        ServiceRecord(
            p.town.residents[3].address,
            p.town.residents[4].address,
            7,
            category_code("FIX"),
            b"\x22" * 32,
            0,
        ),
    )


def _alone(p: Parties, item: SignedRecord) -> Outcome:
    p.bank.record_services(p.town.residents[0], p.town.id, _prefix(p))
    try:
        p.bank.record_service(p.town.residents[0], p.town.id, item)
    except ContractRuleBroken as exc:
        # A reverted call's error arguments come back as eth-abi decodes them (lower case).
        return exc.error, tuple(_checksummed(a) for a in exc.args_)
    return RECORDED


def _checksummed(value: Any) -> Any:
    if isinstance(value, str) and Web3.is_address(value):
        return Web3.to_checksum_address(value)
    return value


def _in_batch(p: Parties, item: SignedRecord) -> Outcome:
    batch = [*_prefix(p), item, _after(p)]
    result = p.bank.record_services(p.town.residents[0], p.town.id, batch)
    # The records around it are taken whatever happens to it.
    around = {(e.provider, e.nonce) for e in result.recorded}
    assert {(p.provider.address, n) for n in (0, 1, 2)} <= around
    assert (p.town.residents[3].address, 0) in around
    if result.skipped:
        (skipped,) = result.skipped
        return skipped.error, skipped.error_args
    assert len(result.recorded) == 5
    return RECORDED


def _matches(expected: Outcome, found: Outcome) -> bool:
    """`?` stands for an argument the test does not predict (an address recovered from a
    signature over other content)."""
    return expected[0] == found[0] and all(
        e == "?" or e == f for e, f in zip(expected[1], found[1], strict=True)
    )


def _judged_from(w3: Web3, p: Parties, item: SignedRecord, how: Callable[..., Outcome]) -> Outcome:
    snapshot = rpc(w3, "evm_snapshot")
    try:
        return how(p, item)
    finally:
        rpc(w3, "evm_revert", [snapshot])


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(x=st.integers(0, 2**20))
def test_fast_and_slow_paths_judge_every_malformed_record_alike(
    w3: Web3, system: Deployment, town: Town, kind: str, x: int
) -> None:
    p = Parties(TimeBankContract(w3, system.timebank), town)
    item, expected = _fault(kind, p, x)
    alone = _judged_from(w3, p, item, _alone)
    in_batch = _judged_from(w3, p, item, _in_batch)
    assert alone == in_batch, f"{kind}: alone {alone}, in a batch {in_batch}"
    assert _matches(expected, alone), f"{kind}: the rules say {expected}, the contract {alone}"


def test_minutes_beyond_32_bits_in_raw_calldata_revert_alone_and_in_a_batch(
    w3: Web3, system: Deployment, town: Town
) -> None:
    """A minutes word with bits above uint32 (only hand-made calldata has one): the fast path
    declines it and the slow path's ABI decoder reverts the whole call, alone or in a batch;
    nothing is recorded either way."""
    p = Parties(TimeBankContract(w3, system.timebank), town)
    item = p.both(p.record(30, 0))
    fn = system.timebank.functions
    batch = [*_prefix(p)[1:], item]
    calls = {
        "alone": (fn.recordService(town.id, item.as_tuple())._encode_transaction_data(), 4 + 32),
        "batch": (
            fn.recordServices(town.id, [i.as_tuple() for i in batch])._encode_transaction_data(),
            4 + 96 + 320 * (len(batch) - 1),
        ),
    }
    for name, (data, at) in calls.items():
        raw = bytearray(bytes.fromhex(data[2:]))
        minutes = at + 64
        raw[minutes : minutes + 32] = ((1 << 32) + 30).to_bytes(32, "big")
        tx = {"from": town.residents[0].address, "to": system.timebank.address}
        with pytest.raises(Exception) as info:
            w3.eth.call({**tx, "data": "0x" + raw.hex()})
        assert "revert" in str(info.value).lower(), f"{name}: {info.value}"
    assert p.bank.balance_of(town.id, p.provider.address) == 0
