"""A trustee's steps of a secret vote, computed from the chain and the trustee's own file
(ledger.secret.trustee_file): each returns the acts to sign (ledger.admin.AdminCall), which
the CLI checks, simulates and sends. Public facts are read from SecretBallot's events; nothing
secret leaves the trustee's file but what the protocol publishes (a share answered in clear to
a complaint against this trustee, its partial decryptions)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from ledger.admin import AdminCall, Signer
from ledger.deploy import Deployment
from ledger.errors import LedgerError
from ledger.hashing import checksum_address, keccak
from ledger.protocol.generated import Functions, SecretVoteState, SecretVoteView
from ledger.secret import dkg
from ledger.secret import tally as secret_tally
from ledger.secret.ballot import Ciphertext
from ledger.secret.group import G, Point, random_scalar
from ledger.secret.transcript import VoteContext
from ledger.secret.trustee_file import TrusteeState
from ledger.signing.secret_ballots import SecretBallotMessage


class TrusteeRefused(LedgerError):
    """A step this trustee cannot take now, said in one sentence."""


@dataclass(frozen=True)
class VoteOnChain:
    """One vote's public facts and the events its steps read."""

    w3: Web3
    deployment: Deployment
    vote_id: int
    view: SecretVoteView

    @classmethod
    def read(cls, w3: Web3, deployment: Deployment, vote_id: int) -> VoteOnChain:
        raw = deployment.secret.functions.getSecretVote(vote_id).call()
        return cls(w3, deployment, vote_id, SecretVoteView(**raw._asdict()))

    @property
    def contract(self) -> Contract:
        return self.deployment.secret

    @property
    def state(self) -> SecretVoteState:
        return SecretVoteState(self.view.state)

    def context(self) -> VoteContext:
        return VoteContext.at(self.deployment.chain_id, self.contract.address, self.vote_id)

    def number_of(self, address: str) -> int:
        """The 1-based place of `address` among the vote's trustees."""
        trustees = [checksum_address(t) for t in self.view.trustees]
        if checksum_address(address) not in trustees:
            raise TrusteeRefused(f"{address} is not a trustee of secret vote {self.vote_id}")
        return trustees.index(checksum_address(address)) + 1

    def events(self, name: str) -> list[dict[str, Any]]:
        event = self.contract.events[name]()
        logs = event.get_logs(
            from_block=self.deployment.start_block, argument_filters={"voteId": self.vote_id}
        )
        return [dict(log["args"]) | {"tx": log["transactionHash"]} for log in logs]

    def communication_keys(self) -> dict[int, Point]:
        return {
            int(e["trustee"]): Point.from_words(*e["key"])
            for e in self.events("CommunicationKeyRegistered")
        }

    def dealings(self) -> dict[int, tuple[list[Point], list[int]]]:
        out = {}
        for e in self.events("SharesDealt"):
            words = list(e["commitments"])
            points = [Point.from_words(words[i], words[i + 1]) for i in range(0, len(words), 2)]
            out[int(e["dealer"])] = (points, [int(s) for s in e["encryptedShares"]])
        return out

    def qualified(self) -> list[int]:
        return [k for k in range(1, len(self.view.trustees) + 1) if self.view.qualified >> k & 1]

    def aggregate(self) -> list[Ciphertext]:
        return aggregate_of(self.view)


def aggregate_of(view: SecretVoteView) -> list[Ciphertext]:
    """The vote's running sum of ballots, one ciphertext an option."""
    words = list(view.aggregate)
    return [
        Ciphertext(
            Point.from_words(words[4 * j], words[4 * j + 1]),
            Point.from_words(words[4 * j + 2], words[4 * j + 3]),
        )
        for j in range(len(words) // 4)
    ]


def question_text(question: str, options: Sequence[str]) -> str:
    """The question and its options as the canonical JSON whose keccak256 the vote commits to
    (stored off-chain through the API's /v1/texts)."""
    return json.dumps({"question": question, "options": list(options)}, ensure_ascii=False)


def question_hash(question: str, options: Sequence[str]) -> bytes:
    return keccak(question_text(question, options).encode())


def read_question(text: str | None) -> tuple[str, list[str]] | None:
    """The question and options of a stored question text; None if absent or not one."""
    if text is None:
        return None
    try:
        data = json.loads(text)
        question, options = data["question"], data["options"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(question, str) or not isinstance(options, list):
        return None
    if not all(isinstance(o, str) for o in options):
        return None
    return question, options


def _call(name: str, args: tuple[Any, ...], what: str, event: str, **matches: Any) -> AdminCall:
    function = getattr(Functions, name)
    return AdminCall(
        "secret", function, args, what, Signer.ANYONE, event, None, None, tuple(matches.items())
    )


def new_trustee(vote: VoteOnChain, address: str) -> tuple[TrusteeState, AdminCall]:
    """A fresh communication key for `address`'s place; the state to save before it is sent."""
    if vote.state != SecretVoteState.Keys:
        raise TrusteeRefused(f"secret vote {vote.vote_id} takes no keys now ({vote.state.name})")
    number = vote.number_of(address)
    state = TrusteeState(
        vote.deployment.chain_id, vote.contract.address, vote.vote_id, number, random_scalar()
    )
    key = list((state.secret * G).words())
    call = _call(
        "registerCommunicationKey",
        (vote.vote_id, key),
        f"register trustee {number}'s communication key for secret vote {vote.vote_id}",
        "CommunicationKeyRegistered",
        voteId=vote.vote_id,
        trustee=number,
    )
    return state, call


def deal(vote: VoteOnChain, state: TrusteeState) -> AdminCall:
    """The trustee's polynomial (kept in `state`), committed, and a share for every trustee
    with a registered key, each encrypted to it."""
    keys = vote.communication_keys()
    if state.number not in keys:
        raise TrusteeRefused(f"trustee {state.number} registered no communication key")
    if not state.coefficients:
        state.coefficients = list(dkg.Dealer.random(state.number, vote.view.threshold).coefficients)
    dealer = dkg.Dealer(state.number, tuple(state.coefficients))
    dealing = dealer.deal(vote.context(), state.secret, keys)
    state.received[state.number] = dealer.share_for(state.number)
    n = len(vote.view.trustees)
    shares = [dealing.encrypted_shares.get(k, 0) for k in range(1, n + 1)]
    commitments = [w for c in dealing.commitments for w in c.words()]
    return _call(
        "deal",
        (vote.vote_id, commitments, shares),
        f"trustee {state.number} deals its shares for secret vote {vote.vote_id}",
        "SharesDealt",
        voteId=vote.vote_id,
        dealer=state.number,
    )


def check_deals(vote: VoteOnChain, state: TrusteeState) -> tuple[list[int], list[AdminCall]]:
    """Decrypt and check every share dealt to this trustee: the good ones kept in `state`;
    a complaint for each dealer whose share does not match its commitments."""
    keys = vote.communication_keys()
    good, complaints = [], []
    for dealer, (commitments, encrypted) in sorted(vote.dealings().items()):
        if dealer == state.number:
            continue
        shared = dkg.shared_key(state.secret, keys[dealer])
        share = dkg.decrypt_share(
            vote.context(), dealer, state.number, encrypted[state.number - 1], shared
        )
        if dkg.share_is_valid(share, state.number, commitments):
            state.received[dealer] = share
            good.append(dealer)
        else:
            complaints.append(
                _call(
                    "complain",
                    (vote.vote_id, dealer),
                    f"trustee {state.number} complains against dealer {dealer}",
                    "DealComplained",
                    voteId=vote.vote_id,
                    dealer=dealer,
                    accuser=state.number,
                )
            )
    return good, complaints


def answers(vote: VoteOnChain, state: TrusteeState) -> list[AdminCall]:
    """For each complaint against this trustee not yet answered, its share in clear."""
    if not state.coefficients:
        raise TrusteeRefused(f"trustee {state.number} has not dealt: nothing to answer")
    dealer = dkg.Dealer(state.number, tuple(state.coefficients))
    answered = {
        int(e["accuser"])
        for e in vote.events("ComplaintAnswered")
        if int(e["dealer"]) == state.number
    }
    accusers = sorted(
        {
            int(e["accuser"])
            for e in vote.events("DealComplained")
            if int(e["dealer"]) == state.number
        }
        - answered
    )
    return [
        _call(
            "answer",
            (vote.vote_id, accuser, dealer.share_for(accuser)),
            f"trustee {state.number} answers trustee {accuser}'s complaint",
            "ComplaintAnswered",
            voteId=vote.vote_id,
            dealer=state.number,
            accuser=accuser,
        )
        for accuser in accusers
    ]


def take_answers(vote: VoteOnChain, state: TrusteeState) -> None:
    """Shares revealed in clear to this trustee's complaints, once checked on-chain as valid."""
    for e in vote.events("ComplaintAnswered"):
        if int(e["accuser"]) == state.number and bool(e["valid"]):
            state.received[int(e["dealer"])] = int(e["share"])


def close_keys(vote: VoteOnChain) -> AdminCall:
    return _call(
        "closeKeyGeneration",
        (vote.vote_id,),
        f"close key generation of secret vote {vote.vote_id}",
        "KeyGenerated",
        voteId=vote.vote_id,
    )


def partial_decryption(vote: VoteOnChain, state: TrusteeState) -> AdminCall:
    """x_k from the shares of the qualified dealers, and its proven partial of each option."""
    if vote.state != SecretVoteState.Decryption:
        raise TrusteeRefused(f"secret vote {vote.vote_id} is not in decryption ({vote.state.name})")
    take_answers(vote, state)
    qualified = vote.qualified()
    missing = [i for i in qualified if i not in state.received]
    if state.number not in qualified:
        raise TrusteeRefused(f"trustee {state.number} is not qualified: it holds no share")
    if missing:
        raise TrusteeRefused(f"no checked share from dealers {missing}: run check-deals first")
    share = dkg.secret_share(state.received, qualified)
    words = [
        w
        for j, s in enumerate(vote.aggregate())
        for w in secret_tally.decrypt_partial(vote.context(), state.number, j, share, s.a).words()
    ]
    return _call(
        "publishPartialDecryption",
        (vote.vote_id, words),
        f"trustee {state.number} publishes its partial decryption",
        "PartialDecryptionPublished",
        voteId=vote.vote_id,
        trustee=state.number,
    )


def tally(vote: VoteOnChain) -> list[int]:
    """The tally from the published partials and the aggregate (tally_of)."""
    published = {
        int(e["trustee"]): [int(w) for w in e["partials"]]
        for e in vote.events("PartialDecryptionPublished")
    }
    return tally_of(vote.view, published)


def tally_of(view: SecretVoteView, published: Mapping[int, Sequence[int]]) -> list[int]:
    """The tally from the partials `published` by trustee (any t of them: their proofs were
    checked when published) and the vote's aggregate: each option's small discrete log.
    TrusteeRefused while fewer than t are published."""
    if len(published) < view.threshold:
        raise TrusteeRefused(
            f"{len(published)} partial decryptions published; {view.threshold} needed"
        )
    chosen = sorted(published)[: view.threshold]
    sums = aggregate_of(view)
    shares = [
        {k: secret_tally.parse_partial(k, j, published[k][4 * j : 4 * j + 4]).share for k in chosen}
        for j in range(len(sums))
    ]
    return secret_tally.tally(sums, shares, int(view.ballotCount))


def finalize(vote: VoteOnChain, counts: list[int]) -> AdminCall:
    return _call(
        "finalizeSecretVote",
        (vote.vote_id, counts),
        f"finalize secret vote {vote.vote_id} with the tally {counts}",
        "SecretVoteFinalized",
        voteId=vote.vote_id,
    )


def challenge(vote: VoteOnChain, voter: str) -> AdminCall:
    """The challenge of `voter`'s counted ballot: its batch's list of struct hashes is rebuilt
    from the castSecretBallots call that counted it (its transaction's input)."""
    voter = checksum_address(voter)
    cast = [e for e in vote.events("SecretBallotCast") if checksum_address(e["voter"]) == voter]
    if not cast:
        raise TrusteeRefused(f"no ballot of {voter} was counted in secret vote {vote.vote_id}")
    tx_hash = cast[0]["tx"]
    receipt = vote.w3.eth.get_transaction_receipt(tx_hash)
    counted = [
        checksum_address(dict(e["args"])["voter"])
        for e in vote.contract.events.SecretBallotCast().process_receipt(receipt, errors=DISCARD)
        if int(dict(e["args"])["voteId"]) == vote.vote_id
    ]
    (recorded,) = [
        dict(e["args"])
        for e in vote.contract.events.SecretBatchRecorded().process_receipt(receipt, errors=DISCARD)
        if int(dict(e["args"])["voteId"]) == vote.vote_id
    ]
    data = bytes(vote.w3.eth.get_transaction(tx_hash)["input"])
    words_of = _relayed_words(data, vote.vote_id)
    entries = [
        SecretBallotMessage(vote.vote_id, v, tuple(words_of[v])).struct_hash() for v in counted
    ]
    position = counted.index(voter)
    return _call(
        "challenge",
        (vote.vote_id, int(recorded["batch"]), entries, position, voter, words_of[voter]),
        f"challenge {voter}'s ballot in secret vote {vote.vote_id}",
        "SecretBallotVoided",
        voteId=vote.vote_id,
        voter=voter,
    )


def _relayed_words(data: bytes, vote_id: int) -> dict[str, list[int]]:
    """Each voter's words in a castSecretBallots call (directly, or inside a forwarded batch:
    the call is found by its selector)."""
    selector = Functions.castSecretBallots.selector
    at = data.find(selector)
    if at < 0:
        raise TrusteeRefused("the transaction that counted the ballot holds no castSecretBallots")
    (vid, ballots) = abi_decode(
        ["uint256", "(address,uint256[],bytes32,bytes32)[]"], data[at + 4 :]
    )
    if int(vid) != vote_id:
        raise TrusteeRefused("the castSecretBallots found is for another vote")
    return {checksum_address(b[0]): [int(w) for w in b[1]] for b in ballots}
