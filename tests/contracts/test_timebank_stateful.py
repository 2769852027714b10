"""TimeBank against a Python shadow model: random services (single and batched, member to
member and with the community), replays, reversals, limit changes and roll changes (staged and
published, which batches must notice through their residency stamps); after every step every
balance equals the model's, the balances sum to zero, and every refusal or skipped record names
the error the model predicts."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from web3 import Web3

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.node import rpc
from ledger.signing.services import (
    COMMUNITY_ACCOUNT,
    ServiceRecord,
    SignedRecord,
    category_code,
    record_id,
    sign_both,
    sign_reversal,
)
from ledger.tx import send
from tests.contract_wrappers.timebank import TimeBankContract
from tests.contracts.conftest import Town

COMMUNITY = -1  # party index of the community's own account
FLOOR, CEILING = -150, 200

party = st.integers(-1, 5)  # the community or one of six residents (0 is the coordinator)
# Distinct parties: SameParty is covered by the unit tests, and would waste steps here.
service = st.tuples(party, party, st.integers(1, 120)).filter(lambda s: s[0] != s[1])


@dataclass(frozen=True)
class Recorded:
    item: SignedRecord
    provider: int
    recipient: int


def test_timebank_matches_shadow_model(w3: Web3, system: Deployment, town: Town) -> None:
    bank = TimeBankContract(w3, system.timebank)
    bank.set_limits(town.admin, town.id, FLOOR, CEILING)
    residents = town.residents
    coordinator_index = residents.index(town.coordinator)
    relayer = town.committee[0]
    domain = bank.domain()

    def address(p: int) -> str:
        return COMMUNITY_ACCOUNT if p == COMMUNITY else residents[p].address

    def signer(p: int) -> LocalAccount:
        return town.coordinator if p == COMMUNITY else residents[p]

    class TimeBankMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = rpc(w3, "evm_snapshot")
            self.balances = {p: 0 for p in range(-1, len(residents))}
            self.floor, self.ceiling = FLOOR, CEILING
            self.recorded: list[Recorded] = []
            self.reversed: set[int] = set()
            self.next_nonce: dict[int, int] = {}
            self.off_roll: set[int] = set()  # published
            self.off_staged: set[int] = set()  # as the next version will publish it

        def teardown(self) -> None:
            rpc(w3, "evm_revert", [self.snapshot])

        # ---- the model

        def predict(self, provider: int, recipient: int, minutes: int) -> str | None:
            if provider == recipient:
                return "SameParty"
            for side, other in ((provider, recipient), (recipient, provider)):
                if side == COMMUNITY and other == coordinator_index:
                    return "CoordinatorIsParty"
                if side in self.off_roll:
                    return "NotResident"
            if provider != COMMUNITY and self.balances[provider] + minutes > self.ceiling:
                return "AboveCeiling"
            if recipient != COMMUNITY and self.balances[recipient] - minutes < self.floor:
                return "BelowFloor"
            return None

        def replay_error(self, r: Recorded) -> str:
            # Both sides are judged (signature, residency) before the nonce.
            if {r.provider, r.recipient} & self.off_roll:
                return "NotResident"
            return "NonceAlreadyUsed"

        def apply(self, provider: int, recipient: int, minutes: int) -> None:
            self.balances[provider] += minutes
            self.balances[recipient] -= minutes

        def sign(self, provider: int, recipient: int, minutes: int) -> SignedRecord:
            # Refused records leave holes below the window's top; keep well inside its 128.
            nonce = self.next_nonce.get(provider, 0)
            self.next_nonce[provider] = nonce + 1
            record = ServiceRecord(
                address(provider),
                address(recipient),
                minutes,
                category_code("HELP"),
                b"\x33" * 32,
                nonce,
            )
            return sign_both(signer(provider), signer(recipient), domain, town.id, record)

        # ---- rules

        @rule(s=service)
        def record_one(self, s: tuple[int, int, int]) -> None:
            provider, recipient, minutes = s
            item = self.sign(provider, recipient, minutes)
            expected = self.predict(provider, recipient, minutes)
            try:
                bank.record_service(relayer, town.id, item)
            except ContractRuleBroken as exc:
                assert exc.error == expected, f"model expected {expected}, contract said {exc}"
                return
            assert expected is None, f"model expected {expected}, contract accepted"
            self.apply(provider, recipient, minutes)
            self.recorded.append(Recorded(item, provider, recipient))

        @rule(batch=st.lists(service, min_size=1, max_size=4), replay=st.booleans())
        def record_batch(self, batch: list[tuple[int, int, int]], replay: bool) -> None:
            items, expected = [], []
            for provider, recipient, minutes in batch:
                items.append(self.sign(provider, recipient, minutes))
                error = self.predict(provider, recipient, minutes)
                expected.append(error)
                if error is None:
                    self.apply(provider, recipient, minutes)
                    self.recorded.append(Recorded(items[-1], provider, recipient))
            if replay and self.recorded:
                items.append(self.recorded[0].item)
                expected.append(self.replay_error(self.recorded[0]))
            result = bank.record_services(relayer, town.id, items)
            assert len(result.recorded) == expected.count(None)
            assert [s.error for s in result.skipped] == [e for e in expected if e is not None]

        @rule(i=st.integers(0, 100))
        def replay(self, i: int) -> None:
            if not self.recorded:
                return
            r = self.recorded[i % len(self.recorded)]
            try:
                bank.record_service(relayer, town.id, r.item)
            except ContractRuleBroken as exc:
                assert exc.error == self.replay_error(r), str(exc)
            else:
                raise AssertionError("a replayed record was accepted")

        @rule(i=st.integers(0, 100))
        def reverse(self, i: int) -> None:
            if not self.recorded:
                return
            index = i % len(self.recorded)
            r = self.recorded[index]
            minutes = r.item.record.minutes_served
            expected = None
            # The reversal credits the original recipient before it debits the original
            # provider, and names the first limit broken: ceiling first, as for a record.
            # Both sides are judged (signature, residency) first, as for a record.
            if {r.provider, r.recipient} & self.off_roll:
                expected = "NotResident"
            elif index in self.reversed:
                expected = "AlreadyReversed"
            elif r.recipient != COMMUNITY and self.balances[r.recipient] + minutes > self.ceiling:
                expected = "AboveCeiling"
            elif r.provider != COMMUNITY and self.balances[r.provider] - minutes < self.floor:
                expected = "BelowFloor"
            rid = record_id(town.id, r.item.record)
            reason = b"\x44" * 32
            try:
                bank.reverse_service(
                    relayer,
                    town.id,
                    r.item.record,
                    reason,
                    sign_reversal(signer(r.provider), domain, rid, reason),
                    sign_reversal(signer(r.recipient), domain, rid, reason),
                )
            except ContractRuleBroken as exc:
                assert exc.error == expected, f"model expected {expected}, contract said {exc}"
                return
            assert expected is None, f"model expected {expected}, contract accepted"
            self.apply(r.recipient, r.provider, minutes)
            self.reversed.add(index)

        @rule(floor=st.integers(-300, 0), ceiling=st.integers(0, 300))
        def set_limits(self, floor: int, ceiling: int) -> None:
            bank.set_limits(town.admin, town.id, floor, ceiling)
            self.floor, self.ceiling = floor, ceiling

        @rule(p=st.integers(0, 5), publish=st.booleans())
        def toggle_residency(self, p: int, publish: bool) -> None:
            member = residents[p].address
            leaving = p not in self.off_staged
            change = ([], [member]) if leaving else ([member], [])
            try:
                send(
                    w3, town.admin, system.registry.functions.updateRoll(town.id, *change, publish)
                )
            except ContractRuleBroken as exc:
                # Re-joining a fourth time needs the oldest interval pruned: 400 days away.
                assert exc.error == "RollHistoryFull", str(exc)
                return
            (self.off_staged.add if leaving else self.off_staged.discard)(p)
            if publish:
                self.off_roll = set(self.off_staged)

        @invariant()
        def balances_match_model_and_sum_to_zero(self) -> None:
            on_chain = {p: bank.balance_of(town.id, address(p)) for p in self.balances}
            assert on_chain == self.balances
            assert sum(on_chain.values()) == 0

    run_state_machine_as_test(
        TimeBankMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
