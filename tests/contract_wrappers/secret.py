"""Typed client of SecretBallot for the tests and the bench: opening, the trustees' key
generation (played by `Trustee`s holding their secrets, with ledger.secret), encrypted ballots
signed and relayed in batches, challenges, partial decryptions and the finalized tally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.protocol.generated import SecretSkipReason
from ledger.secret import ballot as secret_ballot
from ledger.secret import dkg
from ledger.secret import tally as secret_tally
from ledger.secret.ballot import BallotStatement, Ciphertext
from ledger.secret.group import G, Point, random_scalar
from ledger.secret.transcript import VoteContext
from ledger.signing.secret_ballots import (
    SecretBallotDomain,
    SecretBallotMessage,
    SignedSecretBallot,
    sign_secret_ballot,
)
from ledger.tx import ErrorDecoder, send

# Seconds from opening: keys, deals, complaints, answers; ballots open with the answers' end.
KEYS, DEALS, COMPLAINTS, ANSWERS = 100, 200, 300, 400
VOTING = 3600
CHALLENGES = 600


@dataclass(frozen=True)
class SecretVoteParams:
    community_id: int
    trustees: tuple[str, ...]
    threshold: int
    start: int  # the chain's time when opened
    option_count: int = 3
    question_hash: bytes = b"\x5e" * 32

    @property
    def closes_at(self) -> int:
        return self.start + ANSWERS + VOTING

    @property
    def challenges_until(self) -> int:
        return self.closes_at + CHALLENGES

    def as_tuple(self) -> tuple[Any, ...]:
        s = self.start
        return (
            self.community_id,
            self.question_hash,
            self.option_count,
            list(self.trustees),
            self.threshold,
            s + KEYS,
            s + DEALS,
            s + COMPLAINTS,
            s + ANSWERS,
            s + ANSWERS,
            self.closes_at,
            self.challenges_until,
        )


@dataclass
class Trustee:
    """One trustee's account and secrets: its communication key, its polynomial, the shares it
    received (dealer -> s_ik) and, once the key is fixed, its share x_k."""

    number: int
    account: LocalAccount
    threshold: int
    secret: int = field(default_factory=random_scalar)
    received: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dealer = dkg.Dealer.random(self.number, self.threshold)

    @property
    def key(self) -> Point:
        return self.secret * G


@dataclass(frozen=True)
class Batch:
    receipt: TxReceipt
    cast: tuple[str, ...]
    skipped: tuple[tuple[str, SecretSkipReason], ...]
    batch: int | None  # the recorded batch number, if any ballot counted
    entries: tuple[bytes, ...]  # the counted ballots' struct hashes, in order
    ballots: tuple[tuple[Any, ...], ...]  # the call's arguments, as relayed

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])


class SecretBallotContract:
    def __init__(self, w3: Web3, contract: Contract) -> None:
        self.w3 = w3
        self.contract = w3.eth.contract(
            address=contract.address, abi=contract.abi, decode_tuples=True
        )
        self.decoder = ErrorDecoder([contract.abi])

    @property
    def domain(self) -> SecretBallotDomain:
        return SecretBallotDomain(
            int(self.w3.eth.chain_id), to_checksum_address(self.contract.address)
        )

    def context(self, vote_id: int) -> VoteContext:
        return VoteContext.at(int(self.w3.eth.chain_id), self.contract.address, vote_id)

    def send(self, sender: LocalAccount, call: Any) -> TxReceipt:
        return send(self.w3, sender, call, decoder=self.decoder)

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        event = getattr(self.contract.events, name)
        return [dict(e["args"]) for e in event().process_receipt(receipt, errors=DISCARD)]

    def vote(self, vote_id: int) -> Any:
        return self.contract.functions.getSecretVote(vote_id).call()

    # ------------------------------------------------------------ opening and key generation

    def open_vote(self, sender: LocalAccount, params: SecretVoteParams) -> int:
        receipt = self.send(sender, self.contract.functions.openSecretVote(params.as_tuple()))
        (opened,) = self.events(receipt, "SecretVoteOpened")
        return int(opened["voteId"])

    def register_key(self, vote_id: int, trustee: Trustee) -> TxReceipt:
        call = self.contract.functions.registerCommunicationKey(vote_id, list(trustee.key.words()))
        return self.send(trustee.account, call)

    def deal(
        self,
        vote_id: int,
        trustee: Trustee,
        keys: dict[int, Point],
        n: int,
        corrupt: Sequence[int] = (),
    ) -> TxReceipt:
        """Trustee deals to every trustee in `keys`; those in `corrupt` get a wrong share."""
        dealing = trustee.dealer.deal(self.context(vote_id), trustee.secret, keys)
        trustee.received[trustee.number] = trustee.dealer.share_for(trustee.number)
        shares = [
            (dealing.encrypted_shares.get(k, 0) + (1 if k in corrupt else 0))
            for k in range(1, n + 1)
        ]
        commitments = [w for c in dealing.commitments for w in c.words()]
        return self.send(
            trustee.account, self.contract.functions.deal(vote_id, commitments, shares)
        )

    def receive(
        self, vote_id: int, trustee: Trustee, dealer: Trustee, dealt: dict[str, Any]
    ) -> bool:
        """Trustee decrypts and checks the share dealer posted for it (`dealt`: the SharesDealt
        event); False: it should complain."""
        words = list(dealt["commitments"])
        commitments = [Point.from_words(words[w], words[w + 1]) for w in range(0, len(words), 2)]
        encrypted = int(dealt["encryptedShares"][trustee.number - 1])
        shared = dkg.shared_key(trustee.secret, dealer.key)
        context = self.context(vote_id)
        share = dkg.decrypt_share(context, dealer.number, trustee.number, encrypted, shared)
        if not dkg.share_is_valid(share, trustee.number, commitments):
            return False
        trustee.received[dealer.number] = share
        return True

    def run_key_generation(
        self, vote_id: int, trustees: Sequence[Trustee], clock: Any, **faults: Any
    ) -> TxReceipt:
        """play_key_generation, then closes it. Returns closeKeyGeneration's receipt."""
        self.play_key_generation(vote_id, trustees, clock, **faults)
        return self.send(trustees[0].account, self.contract.functions.closeKeyGeneration(vote_id))

    def play_key_generation(
        self,
        vote_id: int,
        trustees: Sequence[Trustee],
        clock: Any,
        *,
        silent: Sequence[int] = (),
        no_deal: Sequence[int] = (),
        corrupt: dict[int, Sequence[int]] | None = None,
        lying: Sequence[int] = (),
        mute: Sequence[int] = (),
    ) -> None:
        """Plays the DKG: `silent` register no key, `no_deal` deal nothing, `corrupt[i]` lists
        whom dealer i sends a wrong share, `lying` dealers answer a complaint with a wrong share,
        `mute` dealers do not answer; leaves the vote past its answers window, not yet closed."""
        corrupt = corrupt or {}
        n = len(trustees)
        for t in trustees:
            if t.number not in silent:
                self.register_key(vote_id, t)
        clock.advance(KEYS)
        keys = {t.number: t.key for t in trustees if t.number not in silent}
        deals: dict[int, dict[str, Any]] = {}
        for t in trustees:
            if t.number in silent or t.number in no_deal:
                continue
            receipt = self.deal(vote_id, t, keys, n, corrupt.get(t.number, ()))
            (deals[t.number],) = self.events(receipt, "SharesDealt")
        clock.advance(DEALS - KEYS)
        complaints: list[tuple[Trustee, Trustee]] = []
        for t in trustees:
            if t.number in silent:
                continue
            for dealer in trustees:
                if dealer.number == t.number or dealer.number not in deals:
                    continue
                if not self.receive(vote_id, t, dealer, deals[dealer.number]):
                    self.send(t.account, self.contract.functions.complain(vote_id, dealer.number))
                    complaints.append((t, dealer))
        clock.advance(COMPLAINTS - DEALS)
        for accuser, dealer in complaints:
            if dealer.number in mute:
                continue
            share = dealer.dealer.share_for(accuser.number)
            given = share + 1 if dealer.number in lying else share
            self.send(
                dealer.account, self.contract.functions.answer(vote_id, accuser.number, given)
            )
            if dealer.number not in lying:
                accuser.received[dealer.number] = share
        clock.advance(ANSWERS - COMPLAINTS)

    def election_key(self, vote_id: int) -> Point:
        x, y = self.vote(vote_id).electionKey
        return Point.from_words(x, y)

    def qualified(self, vote_id: int) -> list[int]:
        bits = int(self.vote(vote_id).qualified)
        return [k for k in range(1, 8) if bits >> k & 1]

    # ------------------------------------------------------------ ballots

    def statement(self, vote_id: int, voter: str) -> BallotStatement:
        view = self.vote(vote_id)
        return BallotStatement(
            self.context(vote_id),
            self.election_key(vote_id),
            int(voter, 16),
            int.from_bytes(bytes(view.questionHash), "big"),
            int(view.optionCount),
        )

    def ballot_words(self, vote_id: int, voter: str, choice: int) -> list[int]:
        return secret_ballot.encrypt(self.statement(vote_id, voter), choice).words()

    def sign(self, voter: LocalAccount, vote_id: int, words: Sequence[int]) -> SignedSecretBallot:
        message = SecretBallotMessage(vote_id, to_checksum_address(voter.address), tuple(words))
        return sign_secret_ballot(voter, message, self.domain)

    def cast(
        self,
        relayer: LocalAccount,
        vote_id: int,
        ballots: Sequence[SignedSecretBallot | tuple[Any, ...]],
    ) -> Batch:
        args = [b.call_arg() if isinstance(b, SignedSecretBallot) else b for b in ballots]
        receipt = self.send(relayer, self.contract.functions.castSecretBallots(vote_id, args))
        cast = self.events(receipt, "SecretBallotCast")
        skipped = self.events(receipt, "SecretBallotSkipped")
        recorded = self.events(receipt, "SecretBatchRecorded")
        counted = {e["voter"] for e in cast}
        entries = tuple(
            SecretBallotMessage(vote_id, to_checksum_address(a[0]), tuple(a[1])).struct_hash()
            for a in args
            if to_checksum_address(a[0]) in counted
        )
        return Batch(
            receipt,
            tuple(e["voter"] for e in cast),
            tuple((e["voter"], SecretSkipReason(e["reason"])) for e in skipped),
            int(recorded[0]["batch"]) if recorded else None,
            entries,
            tuple(tuple(a) for a in args),
        )

    def challenge(
        self, sender: LocalAccount, vote_id: int, batch: Batch, voter: str, words: Sequence[int]
    ) -> TxReceipt:
        message = SecretBallotMessage(vote_id, to_checksum_address(voter), tuple(words))
        position = batch.entries.index(message.struct_hash())
        call = self.contract.functions.challenge(
            vote_id, batch.batch, list(batch.entries), position, message.voter, list(words)
        )
        return self.send(sender, call)

    # ------------------------------------------------------------ the tally

    def aggregate(self, vote_id: int) -> list[Ciphertext]:
        words = list(self.vote(vote_id).aggregate)
        return [
            Ciphertext(
                Point.from_words(words[4 * j], words[4 * j + 1]),
                Point.from_words(words[4 * j + 2], words[4 * j + 3]),
            )
            for j in range(len(words) // 4)
        ]

    def secret_share(self, vote_id: int, trustee: Trustee) -> int:
        return dkg.secret_share(trustee.received, self.qualified(vote_id))

    def partials(self, vote_id: int, trustee: Trustee) -> list[secret_tally.Partial]:
        share = self.secret_share(vote_id, trustee)
        return [
            secret_tally.decrypt_partial(self.context(vote_id), trustee.number, j, share, s.a)
            for j, s in enumerate(self.aggregate(vote_id))
        ]

    def publish(
        self, vote_id: int, trustee: Trustee, words: Sequence[int] | None = None
    ) -> TxReceipt:
        if words is None:
            words = [w for p in self.partials(vote_id, trustee) for w in p.words()]
        call = self.contract.functions.publishPartialDecryption(vote_id, list(words))
        return self.send(trustee.account, call)

    def tally(self, vote_id: int, trustees: Sequence[Trustee]) -> list[int]:
        """The tally found off-chain from the published partials of `trustees`."""
        sums = self.aggregate(vote_id)
        published = {t.number: self.partials(vote_id, t) for t in trustees}
        shares = [{k: parts[j].share for k, parts in published.items()} for j in range(len(sums))]
        return secret_tally.tally(sums, shares, int(self.vote(vote_id).ballotCount))

    def finalize(self, sender: LocalAccount, vote_id: int, tally: Sequence[int]) -> TxReceipt:
        return self.send(sender, self.contract.functions.finalizeSecretVote(vote_id, list(tally)))
