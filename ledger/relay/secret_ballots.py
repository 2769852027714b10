"""The relay's kind for secret ballots: a resident's EIP-712 signature over an encrypted ballot
(ledger.signing.secret_ballots), checked before acknowledgement, batched per vote into
castSecretBallots.

A proof of a valid encryption is not authentication: the voter still signs, and one ballot per
voter holds as for every other ballot (the roll snapshot of the vote, OnceEach over
SecretBallotCast). The contract does not check a ballot's proofs when it is cast (that is left
to a challenge after the close), so the relay checks them here and refuses an invalid ballot
with the reason: an honest relay never lands a ballot somebody would then have to challenge.

What is cached cannot change under it: a vote's options, question, roll snapshot, window and,
once key generation closed, its election key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.protocol.generated import Events, Functions, SecretSkipReason, SecretVoteView
from ledger.relay.ballot_events import outcomes_by_voter
from ledger.relay.clock import ChainClock
from ledger.relay.message import BatchCall, Message, Outcome, fixed_bytes
from ledger.relay.once_each import OnceEach
from ledger.relay.rolls import RollCache
from ledger.secret.ballot import BallotStatement, parse_ballot, verify, word_count
from ledger.secret.errors import SecretBallotError
from ledger.secret.group import Point
from ledger.secret.transcript import VoteContext
from ledger.signing.eip712 import recover_address_bytes, to_compact
from ledger.signing.secp256k1 import HALF_N
from ledger.signing.secret_ballots import (
    SecretBallotDomain,
    SecretBallotMessage,
    secret_ballot_digest,
)

CAST, SKIPPED = Events.SecretBallotCast.topic, Events.SecretBallotSkipped.topic
MAX_WORDS = word_count(8)
# Gas one ballot adds to a batch: measured 32,543 (2 options), 38,822 (3), 52,207 (5) a ballot
# in a first batch of 50 (bench/results/gas_secret.md); the bound keeps a margin over each.
GAS_BASE, GAS_PER_OPTION = 24_000, 9_000
# A batch's own writes besides the transaction: the vote's aggregate (4 words an option, each
# a fresh slot in the first batch) and the batch's recorded hash and count.
GAS_SLOT = 22_100


@dataclass(frozen=True)
class _Vote:
    community_id: int
    options: int
    question: int
    opens_at: int
    closes_at: int
    roll_version: int
    key: Point


class SecretBallotRelay:
    """Signed secret ballots, batched per vote."""

    name = "secret-ballot"

    def __init__(
        self,
        w3: Web3,
        secret: Contract,
        registry: Contract,
        settings: Settings,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_secret_ballot_batch
        self.base_gas = settings.relay_batch_base_gas
        self.w3 = w3
        self.secret = secret
        self.domain = SecretBallotDomain(w3.eth.chain_id, checksum_address(secret.address))
        self.clock = ChainClock(w3, settings)
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
        self._votes: dict[int, _Vote] = {}
        self.voted = OnceEach(w3, secret.address, CAST)

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            vote_id = int(payload["voteId"])
            voter = checksum_address(str(payload["voter"]))
            raw = payload["words"]
            if not isinstance(raw, list) or len(raw) > MAX_WORDS:
                raise ValueError(f"words must be a list of at most {MAX_WORDS}")
            words = tuple(_word(w) for w in raw)
            signature = fixed_bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad secret ballot: {exc}") from exc
        if vote_id <= 0:
            raise InvalidMessage("MalformedBallot", "vote id out of range")
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        ballot = SecretBallotMessage(vote_id, voter, words)
        try:
            signer = recover_address_bytes(secret_ballot_digest(ballot, self.domain), signature)
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(voter[2:]):
            raise InvalidMessage(
                "BadSignature", f"signature is by {checksum_address(signer)}, not the voter {voter}"
            )
        payload = {
            "voteId": vote_id,
            "voter": voter,
            "words": [hex(w) for w in words],
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(vote_id), payload, voter)

    def check(self, message: Message) -> None:
        p = message.payload
        vote_id, voter = int(p["voteId"]), str(p["voter"])
        vote = self.vote(vote_id)
        self._check_window(vote_id, vote)
        self._check_proofs(vote_id, vote, voter, [int(w, 16) for w in p["words"]])
        if not self.rolls.was_resident(vote.community_id, vote.roll_version, voter):
            raise InvalidMessage(
                "VoterNotOnRoll",
                f"{voter} was not on the roll (version {vote.roll_version}) "
                f"when secret vote {vote_id} opened",
            )
        self.voted.claim(
            vote_id,
            voter,
            message.receipt_id,
            lambda: InvalidMessage(
                "AlreadyVoted", f"{voter} already voted in secret vote {vote_id}"
            ),
        )

    def _check_window(self, vote_id: int, vote: _Vote) -> None:
        now = self.clock.now()
        if not vote.opens_at <= now < vote.closes_at:
            now = self.clock.confirmed()  # a "no" from memory is asked again
        if not vote.opens_at <= now < vote.closes_at:
            raise InvalidMessage(
                "SecretVoteNotOpen",
                f"secret vote {vote_id} takes ballots from {vote.opens_at} until {vote.closes_at}",
            )

    def _check_proofs(self, vote_id: int, vote: _Vote, voter: str, words: list[int]) -> None:
        if len(words) != word_count(vote.options):
            raise InvalidMessage(
                "MalformedBallot",
                f"a ballot of {vote.options} options has {word_count(vote.options)} words, "
                f"not {len(words)}",
            )
        try:
            ballot = parse_ballot(words, vote.options)
        except (SecretBallotError, ValueError) as exc:
            raise InvalidMessage("InvalidBallotPoint", str(exc)) from exc
        context = VoteContext.at(self.domain.chain_id, self.domain.contract, vote_id)
        statement = BallotStatement(context, vote.key, int(voter, 16), vote.question, vote.options)
        if not verify(statement, ballot):
            raise InvalidMessage(
                "InvalidBallotProof",
                "the ballot's proofs do not show one encrypted choice for this voter and vote",
            )

    def check_is_local(self, message: Message) -> bool:
        return False  # the first ballot of a vote asks the chain; proofs take a millisecond

    def signed_digest(self, message: Message) -> bytes:
        return secret_ballot_digest(_message_of(message.payload), self.domain)

    def release(self, message: Message) -> None:
        p = message.payload
        self.voted.release(int(p["voteId"]), str(p["voter"]), message.receipt_id)

    def vote(self, vote_id: int) -> _Vote:
        """The vote's fixed facts, cached once its election key exists (it never changes then);
        refused as not open before that."""
        cached = self._votes.get(vote_id)
        if cached is not None:
            return cached
        try:
            v = SecretVoteView(*self.secret.functions.getSecretVote(vote_id).call())
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("UnknownSecretVote", f"no secret vote {vote_id}") from exc
        if not any(v.electionKey):
            raise InvalidMessage(
                "SecretVoteNotOpen", f"secret vote {vote_id} has no election key yet"
            )
        vote = _Vote(
            v.communityId,
            v.optionCount,
            int.from_bytes(bytes(v.questionHash), "big"),
            v.opensAt,
            v.closesAt,
            v.rollVersion,
            Point.from_words(*v.electionKey),
        )
        self._votes[vote_id] = vote
        return vote

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        options = (len(payload["words"]) - 2) // 7
        return GAS_BASE + GAS_PER_OPTION * options

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        ballots = [
            (
                p["voter"],
                [int(w, 16) for w in p["words"]],
                *to_compact(fixed_bytes(p["signature"])),
            )
            for p in payloads
        ]
        args = abi_encode(
            ["uint256", "(address,uint256[],bytes32,bytes32)[]"], [int(group), ballots]
        )
        return BatchCall(
            self.secret.address,
            Functions.castSecretBallots.selector + args,
            self.base_gas + _batch_writes(payloads[0]) + sum(self.gas_bound(p) for p in payloads),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        return outcomes_by_voter(
            receipt,
            self.secret.address,
            CAST,
            SKIPPED,
            lambda data: "0x" + data[:32].hex(),
            lambda code: SecretSkipReason(code).name,
            payloads,
        )


def _word(value: object) -> int:
    """A uint256 word from JSON: a 0x-hex string or a non-negative integer."""
    if isinstance(value, bool):
        raise ValueError("a word is not a boolean")
    word = int(value, 16) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    if not 0 <= word < 2**256:
        raise ValueError("a word is a uint256")
    return word


def _batch_writes(payload: dict[str, Any]) -> int:
    options = (len(payload["words"]) - 2) // 7
    return GAS_SLOT * (4 * options + 2)


def _message_of(payload: dict[str, Any]) -> SecretBallotMessage:
    words = tuple(int(w, 16) for w in payload["words"])
    return SecretBallotMessage(int(payload["voteId"]), payload["voter"], words)
