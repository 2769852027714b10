"""The relay's kind for in-person ballots: a poll officer's signed ballot for a resident present
at the polling place, checked before acknowledgement (the officer's signature and POLL_OFFICER
role, then the election's rules through the online kind, so that one voter holds one ballot
across both channels in the relay as on the chain), batched per election into
PollOffice.castInPersonBallots. A ballot the poll office refuses gets its PollSkipReason in the
receipt; one it hands on, the outcome Elections gave it."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import ElectionSkipReason, Events, Functions, PollSkipReason, Roles
from ledger.relay.ballot_events import MISSING, outcomes_by_voter
from ledger.relay.election_ballots import CAST, SKIPPED, ElectionBallotRelay
from ledger.relay.message import REJECTED, BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.poll_office import PollOfficeRelay
from ledger.signing.eip712 import recover_address_bytes, to_compact
from ledger.signing.in_person_ballots import InPersonBallot, in_person_digest
from ledger.signing.secp256k1 import HALF_N

VOUCHED, REFUSED = Events.InPersonBallotVouched.topic, Events.InPersonBallotRefused.topic


class InPersonBallotRelay(PollOfficeRelay):
    """Officer-signed in-person ballots, batched per election (the online kind's batch size; the
    poll office adds the officer's signature check and one role read per ballot)."""

    name = "in-person-ballot"

    def __init__(
        self,
        w3: Web3,
        poll_office: Contract,
        registry: Contract,
        online: ElectionBallotRelay,
        settings: Settings,
    ) -> None:
        super().__init__(w3, poll_office, registry, online, settings)
        self.gas = settings.relay_ballot_gas

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = InPersonBallot(
                int(payload["electionId"]),
                checksum_address(str(payload["voter"])),
                int(payload["choices"]),
                checksum_address(str(payload["officer"])),
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad in-person ballot: {exc}") from exc
        if ballot.election_id <= 0 or not 0 <= ballot.choices < 2**64:
            raise InvalidMessage("MalformedBallot", "election id or choices out of range")
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(in_person_digest(ballot, self.domain), signature)
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(ballot.officer[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the officer {ballot.officer}",
            )
        payload = {
            "electionId": ballot.election_id,
            "voter": ballot.voter,
            "choices": ballot.choices,
            "officer": ballot.officer,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.election_id), payload, ballot.officer)

    def check(self, message: Message) -> None:
        p = message.payload
        election = self.online.election(p["electionId"])
        if not self.registry.functions.hasRole(
            election.community_id, Roles.POLL_OFFICER, p["officer"]
        ).call():
            raise InvalidMessage(
                "NotPollOfficer",
                f"{p['officer']} is no poll officer of community {election.community_id}",
            )
        self.online.check_ballot(p["electionId"], p["voter"], p["choices"], message.receipt_id)

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        ballot = InPersonBallot(p["electionId"], p["voter"], p["choices"], p["officer"])
        return in_person_digest(ballot, self.domain)

    def release(self, message: Message) -> None:
        self.online.release(message)

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return self.gas

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        ballots = [
            (p["voter"], p["choices"], p["officer"], *to_compact(fixed_bytes(p["signature"])))
            for p in payloads
        ]
        args = abi_encode(
            ["uint256", "(address,uint64,address,bytes32,bytes32)[]"], [int(group), ballots]
        )
        return BatchCall(
            self.poll_office.address,
            Functions.castInPersonBallots_PollOffice.selector + args,
            self.base_gas + self.gas * len(ballots),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """The poll office's word on each ballot, in log order per voter: refused with its
        reason, or vouched and then whatever Elections did with it."""
        said: dict[str, deque[int | None]] = defaultdict(deque)
        here = self.poll_office.address.lower()
        for log_ in sorted(receipt["logs"], key=lambda entry: entry["logIndex"]):
            topics = log_["topics"]
            if (
                log_["address"].lower() != here
                or not topics
                or bytes(topics[0])
                not in (
                    VOUCHED,
                    REFUSED,
                )
            ):
                continue
            voter = checksum_address(bytes(topics[2])[12:])
            refused = bytes(topics[0]) == REFUSED
            said[voter].append(int.from_bytes(bytes(log_["data"])[:32], "big") if refused else None)
        decided: list[Outcome | None] = []
        for p in payloads:
            queue = said[p["voter"]]
            if not queue:
                decided.append(MISSING)
                continue
            reason = queue.popleft()
            decided.append(
                None if reason is None else Outcome(REJECTED, PollSkipReason(reason).name)
            )
        vouched = [p for p, d in zip(payloads, decided, strict=True) if d is None]
        counted = iter(
            outcomes_by_voter(
                receipt,
                self.online.elections.address,
                CAST,
                SKIPPED,
                lambda _: None,
                lambda code: ElectionSkipReason(code).name,
                vouched,
            )
        )
        return [d if d is not None else next(counted) for d in decided]
