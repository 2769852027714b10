"""The relay's kind for election proxy ballots ("election-proxy-ballot"): a proxy's signed
ballot for a resident who appointed them, batched per election into
ElectionProxies.castElectionProxyBallots.

Checked before acknowledgement by the rules of ElectionProxies and Elections as far as the
chain's views answer them now: the election's window and the ballot's encoding (the election
ballots' own checks), voter and proxy on the election's roll, the voter in no paper box, the
mandate, the proxy's limit, and one ballot per voter. A proxy ballot gives way to the voter's
own: a voter whose own ballot is counted or acknowledged is refused (VotedThemself), while the
voter's own ballot after a proxy ballot is taken and replaces it on the chain (the proxy
ballot's receipt stays "counted": it was, until replaced). The contracts are the final judges:
a ballot that slips through is skipped by ElectionProxies or by Elections with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import ElectionProxySkipReason, Events, Functions, MandateScope
from ledger.relay.ballot_events import outcomes_by_voter
from ledger.relay.election_ballots import ElectionBallotRelay
from ledger.relay.message import BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.once_each import OnceEach
from ledger.signing.eip712 import domain_separator, recover_address_bytes, to_compact
from ledger.signing.election_proxy_ballots import (
    ElectionProxyBallot,
    ElectionProxyDomain,
    election_proxy_ballot_digest,
)
from ledger.signing.secp256k1 import HALF_N

CAST = Events.ElectionProxyBallotCast.topic
SKIPPED = Events.ElectionProxyBallotSkipped.topic
# Measured on anvil (ten-rank ballots of a 10-candidate election): a batch of one 206,546 gas
# (the transaction, two contracts, Registry and Mandates cold), of five 421,085 (84,217 each);
# with the batch's base gas this bound covers both.
ELECTION_PROXY_BALLOT_GAS = 150_000


class ElectionProxyBallotRelay:
    """A proxy's ballots for residents in elections, batched per election."""

    name = "election-proxy-ballot"

    def __init__(
        self,
        w3: Web3,
        election_proxies: Contract,
        mandates: Contract,
        online: ElectionBallotRelay,
        settings: Settings,
    ) -> None:
        self.max_batch = settings.relay_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.w3 = w3
        self.election_proxies = election_proxies
        self.mandates = mandates
        self.online = online
        domain = ElectionProxyDomain(w3.eth.chain_id, checksum_address(election_proxies.address))
        self.separator = domain_separator(domain.as_dict())
        self.proxied = OnceEach(w3, online.elections.address, CAST)

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = ElectionProxyBallot(
                int(payload["electionId"]),
                checksum_address(str(payload["voter"])),
                checksum_address(str(payload["proxy"])),
                int(payload["choices"]),
            )
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad proxy ballot: {exc}") from exc
        if ballot.election_id <= 0 or not 0 <= ballot.choices < 2**64:
            raise InvalidMessage("MalformedBallot", "election id or choices out of range")
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(
                election_proxy_ballot_digest(self.separator, ballot), signature
            )
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(ballot.proxy[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the proxy {ballot.proxy}",
            )
        normal = {
            "electionId": ballot.election_id,
            "voter": ballot.voter,
            "proxy": ballot.proxy,
            "choices": ballot.choices,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.election_id), normal, ballot.proxy)

    def check(self, message: Message) -> None:
        p = message.payload
        eid, voter, proxy = p["electionId"], p["voter"], p["proxy"]
        self.online.check_window_and_choices(eid, p["choices"])
        election = self.online.election(eid)
        cid, version = election.community_id, election.roll_version
        if not self.online.rolls.was_resident(cid, version, voter):
            raise InvalidMessage(
                "VoterNotOnRoll", f"{voter} was not on the roll when election {eid} opened"
            )
        if not self.online.rolls.was_resident(cid, version, proxy):
            raise InvalidMessage(
                "ProxyNotOnRoll",
                f"the proxy {proxy} was not on the roll when election {eid} opened",
            )
        if voter.lower() in self.online.paper.assigned(eid):
            raise InvalidMessage(
                "AssignedToPaperBox", f"{voter} votes in a paper box of election {eid}"
            )
        mandated = self.mandates.functions.proxiesFor(
            cid, MandateScope.Election, eid, [voter]
        ).call()[0]
        if mandated != proxy:
            raise InvalidMessage(
                "NoMandate", f"{voter} has not appointed {proxy} for election {eid}"
            )
        if self.online.voted.holds(eid, voter):
            raise InvalidMessage("VotedThemself", f"{voter} voted in election {eid} themself")
        cast = self.online.elections.functions.proxyBallotsBy(eid, proxy).call()
        limit = self.mandates.functions.proxyLimit(cid).call()
        if cast >= limit:
            raise InvalidMessage(
                "ProxyOverLimit", f"{proxy} has cast {cast} of {limit} proxy ballots in {eid}"
            )
        self.proxied.claim(
            eid,
            voter,
            message.receipt_id,
            lambda: InvalidMessage(
                "AlreadyVotedByProxy", f"{voter}'s proxy ballot in election {eid} is in"
            ),
        )

    def check_is_local(self, message: Message) -> bool:
        return False

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        ballot = ElectionProxyBallot(p["electionId"], p["voter"], p["proxy"], p["choices"])
        return election_proxy_ballot_digest(self.separator, ballot)

    def release(self, message: Message) -> None:
        p = message.payload
        self.proxied.release(p["electionId"], p["voter"], message.receipt_id)

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return ELECTION_PROXY_BALLOT_GAS

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        rows = [
            (p["voter"], p["proxy"], p["choices"], *to_compact(fixed_bytes(p["signature"])))
            for p in payloads
        ]
        args = abi_encode(
            ["uint256", "(address,address,uint64,bytes32,bytes32)[]"], [int(group), rows]
        )
        return BatchCall(
            self.election_proxies.address,
            Functions.castElectionProxyBallots.selector + args,
            self.base_gas + ELECTION_PROXY_BALLOT_GAS * len(rows),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Skips come from ElectionProxies (signature, the proxy's roll, the mandate) and from
        Elections (the rest); casts from Elections."""
        return outcomes_by_voter(
            receipt,
            (self.election_proxies.address, self.online.elections.address),
            CAST,
            SKIPPED,
            lambda _: None,
            lambda code: ElectionProxySkipReason(code).name,
            payloads,
        )
