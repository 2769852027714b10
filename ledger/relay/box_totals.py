"""The relay's kind for paper-box totals: each poll officer's signed totals of a box (ballot
patterns with counts and the closure certificate's hash), checked before acknowledgement for the
reason the poll office would refuse them (IPaperBoxes.PaperBoxSkipReason), batched per box into
PollOffice.signBoxTotals. The second officer's signature of totals a different officer signed
makes them count; its receipt says so."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3.types import TxReceipt

from ledger.audit.election_rules import BallotFault, approvals_of, ranking_of
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import (
    ElectionKind,
    Events,
    Functions,
    PaperBox,
    PaperBoxSkipReason,
    Roles,
)
from ledger.relay.ballot_events import MISSING
from ledger.relay.message import COUNTED, REJECTED, BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.poll_office import PollOfficeRelay
from ledger.signing.box_totals import BoxTotals, box_totals_digest, totals_hash
from ledger.signing.eip712 import recover_address_bytes, to_compact
from ledger.signing.secp256k1 import HALF_N

SIGNED, REFUSED = Events.BoxTotalsSigned.topic, Events.BoxTotalsRefused.topic
COUNTED_TOPIC = Events.BoxTotalsCounted.topic
MAX_ENTRIES = 256  # more patterns than any box of MAX_BOX_VOTERS needs in practice
# Gas of signing totals: the signature and role checks, then (for the counting signature) each
# ballot appended to the packed array: at most a word written per 4 ballots (16 ranks).
TOTALS_GAS = 200_000
BALLOT_GAS = 6_000


class BoxTotalsRelay(PollOfficeRelay):
    """Officers' signed box totals, batched per box (two signatures count a box)."""

    name = "box-totals"

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            totals = BoxTotals(
                int(payload["boxId"]),
                tuple(int(c) for c in payload["choices"]),
                tuple(int(n) for n in payload["counts"]),
                fixed_bytes(payload["certificateHash"], 32),
                checksum_address(str(payload["officer"])),
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedTotals", f"bad box totals: {exc}") from exc
        in_range = (
            totals.box_id > 0
            and len(totals.choices) <= MAX_ENTRIES
            and all(0 <= c < 2**64 for c in totals.choices)
            and all(0 <= n < 2**32 for n in totals.counts)
        )
        if not in_range:
            raise InvalidMessage("MalformedTotals", "box id, choices or counts out of range")
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(box_totals_digest(totals, self.domain), signature)
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(totals.officer[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the officer {totals.officer}",
            )
        payload = {
            "boxId": totals.box_id,
            "choices": list(totals.choices),
            "counts": list(totals.counts),
            "certificateHash": "0x" + totals.certificate_hash.hex(),
            "officer": totals.officer,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(totals.box_id), payload, totals.officer)

    def check(self, message: Message) -> None:
        """The poll office's rules, in its order (IPaperBoxes.PaperBoxSkipReason)."""
        totals = _totals(message.payload)
        box = self.box(totals.box_id)
        if box.electionId == 0:
            raise InvalidMessage("BoxNotFound", f"no paper box {totals.box_id}")
        if box.totalsHash != bytes(32):
            raise InvalidMessage("BoxAlreadyCounted", f"box {totals.box_id} counted already")
        election = self.online.election(box.electionId)
        now = self.online.clock.now()
        if not election.opens_at <= now < election.closes_at:
            now = self.online.clock.confirmed()
        if not election.opens_at <= now < election.closes_at:
            raise InvalidMessage(
                "VotingNotOpen",
                f"election {box.electionId} takes box totals from {election.opens_at} "
                f"until {election.closes_at}",
            )
        role = self.registry.functions.hasRole(
            election.community_id, Roles.POLL_OFFICER, totals.officer
        )
        if not role.call():
            raise InvalidMessage(
                "NotPollOfficer",
                f"{totals.officer} is no poll officer of community {election.community_id}",
            )
        if not totals.choices or len(totals.choices) != len(totals.counts) or 0 in totals.counts:
            raise InvalidMessage("EmptyTotals", "one nonzero count per pattern")
        judge = ranking_of if election.kind == ElectionKind.Ranked else approvals_of
        try:
            for choices in totals.choices:
                judge(choices, election.candidate_count, election.max_choices)
        except BallotFault as fault:
            raise InvalidMessage("BadPattern", f"a pattern: {fault.reason.name}") from fault
        if totals.ballots > box.assigned:
            raise InvalidMessage(
                "OverAssigned", f"{totals.ballots} ballots, {box.assigned} residents assigned"
            )
        first = self.poll_office.functions.totalsSigner(totals.box_id, totals_hash(totals)).call()
        if first == totals.officer:
            raise InvalidMessage("SameOfficerTwice", "a second, different officer must sign")

    def box(self, box_id: int) -> PaperBox:
        raw = self.poll_office.functions.getBox(box_id).call()
        return PaperBox(*raw)

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        return box_totals_digest(_totals(message.payload), self.domain)

    def release(self, message: Message) -> None:
        return None  # nothing held: the poll office judges a repeat

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return TOTALS_GAS + BALLOT_GAS * int(sum(payload["counts"]))

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        signed = [
            (
                p["choices"],
                p["counts"],
                fixed_bytes(p["certificateHash"], 32),
                p["officer"],
                *to_compact(fixed_bytes(p["signature"])),
            )
            for p in payloads
        ]
        args = abi_encode(
            ["uint256", "(uint64[],uint32[],bytes32,address,bytes32,bytes32)[]"],
            [int(group), signed],
        )
        return BatchCall(
            self.poll_office.address,
            Functions.signBoxTotals.selector + args,
            self.base_gas + sum(self.gas_bound(p) for p in payloads),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Each officer's totals as the poll office judged them, in log order per officer:
        refused with the reason, signed, or signed and counted (the box's second signature)."""
        said: dict[str, deque[Outcome]] = defaultdict(deque)
        here = self.poll_office.address.lower()
        last: Outcome | None = None
        last_officer = ""
        for log_ in sorted(receipt["logs"], key=lambda entry: entry["logIndex"]):
            topics = log_["topics"]
            if log_["address"].lower() != here or not topics:
                continue
            topic = bytes(topics[0])
            if topic == COUNTED_TOPIC and last is not None:
                ballots = int.from_bytes(bytes(log_["data"])[32:64], "big")
                said[last_officer][-1] = Outcome(COUNTED, f"box counted: {ballots} ballots")
                continue
            if topic not in (SIGNED, REFUSED):
                continue
            officer = checksum_address(bytes(topics[2])[12:])
            if topic == SIGNED:
                last, last_officer = Outcome(COUNTED, "signed"), officer
                said[officer].append(last)
            else:
                reason = int.from_bytes(bytes(log_["data"])[:32], "big")
                said[officer].append(Outcome(REJECTED, PaperBoxSkipReason(reason).name))
        return [said[p["officer"]].popleft() if said[p["officer"]] else MISSING for p in payloads]


def _totals(p: dict[str, Any]) -> BoxTotals:
    return BoxTotals(
        p["boxId"],
        tuple(p["choices"]),
        tuple(p["counts"]),
        fixed_bytes(p["certificateHash"], 32),
        p["officer"],
    )
