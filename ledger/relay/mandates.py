"""The relay's kinds for proxies: a resident's appointment or revocation of a proxy ("mandate",
batched into Mandates.appoint / revoke by act), and a proxy's ballot for a resident
("proxy-ballot", batched per proposal into Council.castProxyBallots).

Checked before acknowledgement by IMandates' and ICouncil's rules as far as the chain's views
answer them now; the contracts are the final judges: a message that slips through (a nonce
taken by another message of the same resident, a limit reached by messages in flight) is
skipped there with its reason, which its receipt then carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.ballot_kinds import SECRET_KINDS
from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import (
    Events,
    Functions,
    MandateScope,
    MandateSkipReason,
    ProposalState,
    ProxyBallotSkipReason,
)
from ledger.relay.ballot_events import MISSING, outcomes_by_voter
from ledger.relay.message import COUNTED, REJECTED, BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.rolls import RollCache
from ledger.signing.ballots import BallotDomain
from ledger.signing.eip712 import domain_separator, recover_address_bytes, to_compact
from ledger.signing.mandates import (
    Mandate,
    MandateDomain,
    ProxyBallot,
    Revocation,
    mandate_digest,
    proxy_ballot_digest,
    revocation_digest,
)
from ledger.signing.secp256k1 import HALF_N

APPOINT, REVOKE = "appoint", "revoke"
# Bounds per message; tests/contracts/test_council_proxies.py measures batches against them: an
# appointment ~90,000 (three new ones 276,705 in one transaction, one replacing another 87,492),
# a proxy ballot ~57,500 after the first of its batch (one alone 178,144, transaction and cold
# Registry and Mandates included; three 293,215).
MANDATE_GAS = 120_000
PROXY_BALLOT_GAS = 130_000
ZERO = "0x" + "00" * 20


def _signer(digest: bytes, signature: bytes, expected: str) -> None:
    """Refuse a high-s signature or one not by `expected`."""
    if int.from_bytes(signature[32:64], "big") > HALF_N:
        raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
    try:
        signer = recover_address_bytes(digest, signature)
    except ValueError as exc:
        raise InvalidMessage("BadSignature", str(exc)) from exc
    if signer != bytes.fromhex(expected[2:]):
        raise InvalidMessage(
            "BadSignature", f"signature is by {checksum_address(signer)}, not {expected}"
        )


class MandateRelay:
    """Appointments and revocations, batched by act (one call each)."""

    name = "mandate"

    def __init__(self, w3: Web3, mandates: Contract, registry: Contract, settings: Settings):
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.w3 = w3
        self.mandates = mandates
        self.registry = registry
        domain = MandateDomain(w3.eth.chain_id, checksum_address(mandates.address))
        self.separator = domain_separator(domain.as_dict())

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            act = str(payload["act"])
            community_id, nonce = int(payload["communityId"]), int(payload["nonce"])
            resident = checksum_address(str(payload["resident"]))
            signature = fixed_bytes(payload["signature"], 65)
            if act == APPOINT:
                mandate = Mandate(
                    community_id,
                    resident,
                    checksum_address(str(payload["proxy"])),
                    MandateScope(int(payload["scope"])),
                    int(payload["voteId"]),
                    nonce,
                )
            elif act != REVOKE:
                raise ValueError(f"act must be {APPOINT} or {REVOKE}")
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedMandate", f"bad mandate: {exc}") from exc
        if community_id <= 0 or nonce < 0:
            raise InvalidMessage("MalformedMandate", "community id or nonce out of range")
        normal: dict[str, Any] = {
            "act": act,
            "communityId": community_id,
            "resident": resident,
            "nonce": nonce,
            "signature": "0x" + signature.hex(),
        }
        if act == APPOINT:
            normal |= {
                "proxy": mandate.proxy,
                "scope": int(mandate.scope),
                "voteId": mandate.vote_id,
            }
        message = Message(self.name, act, normal, resident)
        _signer(self.signed_digest(message), signature, resident)
        return message

    def check(self, message: Message) -> None:
        p = message.payload
        cid, resident = p["communityId"], p["resident"]
        fns = self.mandates.functions
        if p["nonce"] < fns.nonceOf(resident).call():
            raise InvalidMessage("InvalidNonce", f"nonce {p['nonce']} of {resident} is used")
        if p["act"] == REVOKE:
            if fns.mandateOf(cid, resident).call()[0] == ZERO:
                raise InvalidMessage("NoMandate", f"{resident} has no proxy in community {cid}")
            return
        proxy, scope, vote_id = p["proxy"], p["scope"], p["voteId"]
        if (vote_id != 0) if scope == MandateScope.AllVotes else not 0 < vote_id < 2**64:
            raise InvalidMessage("InvalidScope", f"scope {scope} with vote {vote_id}")
        if proxy == resident:
            raise InvalidMessage("SelfProxy", "a resident cannot be their own proxy")
        for who in (resident, proxy):
            if not self.registry.functions.isResident(cid, who).call():
                raise InvalidMessage("VoterNotOnRoll", f"{who} is not on community {cid}'s roll")
        held = fns.mandatesHeld(cid, proxy).call()
        if fns.mandateOf(cid, resident).call()[0] == proxy:
            held -= 1
        limit = fns.proxyLimit(cid).call()
        if held >= limit:
            raise InvalidMessage("ProxyOverLimit", f"{proxy} holds {held} of {limit} mandates")

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        if p["act"] == REVOKE:
            revocation = Revocation(p["communityId"], p["resident"], p["nonce"])
            return revocation_digest(self.separator, revocation)
        mandate = Mandate(
            p["communityId"], p["resident"], p["proxy"], MandateScope(p["scope"]), p["voteId"],
            p["nonce"],
        )  # fmt: skip
        return mandate_digest(self.separator, mandate)

    def release(self, message: Message) -> None:
        pass  # check notes nothing

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return MANDATE_GAS

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        rows: list[tuple[Any, ...]]
        if group == APPOINT:
            rows = [
                (p["communityId"], p["resident"], p["proxy"], p["scope"], p["voteId"], p["nonce"],
                 *to_compact(fixed_bytes(p["signature"])))
                for p in payloads
            ]  # fmt: skip
            args = abi_encode(
                ["(uint256,address,address,uint8,uint256,uint256,bytes32,bytes32)[]"], [rows]
            )
            selector = Functions.appoint.selector
        else:
            rows = [
                (
                    p["communityId"],
                    p["resident"],
                    p["nonce"],
                    *to_compact(fixed_bytes(p["signature"])),
                )
                for p in payloads
            ]
            args = abi_encode(["(uint256,address,uint256,bytes32,bytes32)[]"], [rows])
            selector = Functions.revoke.selector
        return BatchCall(
            self.mandates.address, selector + args, self.base_gas + MANDATE_GAS * len(rows)
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Each message's outcome: its resident's MandateAppointed or MandateRevoked (counted)
        or MandateSkipped (rejected with the reason), taken in log order."""
        counted = (
            Events.MandateAppointed.topic
            if payloads and payloads[0]["act"] == APPOINT
            else (Events.MandateRevoked.topic)
        )
        found: dict[str, list[Outcome]] = {}
        here = self.mandates.address.lower()
        for log_ in sorted(receipt["logs"], key=lambda entry: entry["logIndex"]):
            if log_["address"].lower() != here or not log_["topics"]:
                continue
            topic = bytes(log_["topics"][0])
            resident = checksum_address(bytes(log_["topics"][2])[12:])
            if topic == counted:
                found.setdefault(resident, []).append(Outcome(COUNTED))
            elif topic == Events.MandateSkipped.topic:
                reason = int.from_bytes(bytes(log_["data"])[32:64], "big")
                found.setdefault(resident, []).append(
                    Outcome(REJECTED, MandateSkipReason(reason).name)
                )
        return [
            found[p["resident"]].pop(0) if found.get(p["resident"]) else MISSING for p in payloads
        ]


class ProxyBallotRelay:
    """A proxy's ballots for residents, batched per proposal."""

    name = "proxy-ballot"

    def __init__(
        self,
        w3: Web3,
        council: Contract,
        mandates: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.w3 = w3
        self.council = council
        self.mandates = mandates
        domain = BallotDomain(w3.eth.chain_id, checksum_address(council.address))
        self.separator = domain_separator(domain.as_dict())
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = ProxyBallot(
                int(payload["proposalId"]),
                checksum_address(str(payload["voter"])),
                checksum_address(str(payload["proxy"])),
                int(payload["option"]),
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad proxy ballot: {exc}") from exc
        if ballot.proposal_id <= 0 or not 0 <= ballot.option < 256:
            raise InvalidMessage("MalformedBallot", "proposal id or option out of range")
        _signer(proxy_ballot_digest(self.separator, ballot), signature, ballot.proxy)
        payload = {
            "proposalId": ballot.proposal_id,
            "voter": ballot.voter,
            "proxy": ballot.proxy,
            "option": ballot.option,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.proposal_id), payload, ballot.proxy)

    def check(self, message: Message) -> None:
        p = message.payload
        pid, voter, proxy, option = p["proposalId"], p["voter"], p["proxy"], p["option"]
        try:
            view = self.council.functions.getProposal(pid).call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("UnknownProposal", f"no proposal {pid}") from exc
        if view.state != ProposalState.Open:
            raise InvalidMessage("ProposalNotOpen", f"proposal {pid} is not open")
        if view.kind in SECRET_KINDS:
            raise InvalidMessage(
                "BallotsAreSecret", f"proposal {pid} is decided by its secret vote"
            )
        if option >= view.optionCount:
            raise InvalidMessage("InvalidOption", f"option {option} of {view.optionCount}")
        for who in (voter, proxy):
            if not self.rolls.was_resident(view.communityId, view.rollVersion, who):
                raise InvalidMessage(
                    "VoterNotOnRoll", f"{who} was not on the roll when proposal {pid} opened"
                )
        mandated = self.mandates.functions.proxiesFor(
            view.communityId, MandateScope.Proposal, pid, [voter]
        ).call()[0]
        if mandated != proxy:
            raise InvalidMessage("NoMandate", f"{voter} has not appointed {proxy} for {pid}")
        if self.council.functions.hasVoted(pid, voter).call():
            raise InvalidMessage("AlreadyVoted", f"{voter} has voted on proposal {pid}")

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        ballot = ProxyBallot(p["proposalId"], p["voter"], p["proxy"], p["option"])
        return proxy_ballot_digest(self.separator, ballot)

    def release(self, message: Message) -> None:
        pass  # check notes nothing

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return PROXY_BALLOT_GAS

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        rows = [
            (p["voter"], p["proxy"], p["option"], *to_compact(fixed_bytes(p["signature"])))
            for p in payloads
        ]
        args = abi_encode(
            ["uint256", "(address,address,uint8,bytes32,bytes32)[]"], [int(group), rows]
        )
        return BatchCall(
            self.council.address,
            Functions.castProxyBallots.selector + args,
            self.base_gas + PROXY_BALLOT_GAS * len(rows),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        return outcomes_by_voter(
            receipt,
            self.council.address,
            Events.ProxyBallotCast.topic,
            Events.ProxyBallotSkipped.topic,
            lambda _: None,
            lambda code: ProxyBallotSkipReason(code).name,
            payloads,
        )
