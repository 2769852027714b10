"""A committee member opens a council proposal, and anyone publishes its result once voting has
closed: both as `ledger.admin` acts (an `AdminCall`, checked and simulated before anything is
signed, then sent directly, through the API's relay or by brownie).

The full text lives off-chain: it is stored through the API's /v1/texts before the proposal is
signed, and the proposal commits to its keccak256, which the stored copy must match.

A proposal decided by secret ballot takes its text (the vote's stored question and options),
community, options and times from a secret vote opened beforehand, and is linked to it in a
second act before it opens (ICouncil.linkSecretVote).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ledger.admin import AdminCall, AdminChain, AdminRefused, RelayApi, Signer, currency_code
from ledger.ballot_kinds import is_secret
from ledger.offchain import text_hash
from ledger.protocol.generated import (
    BallotKind,
    Functions,
    Outcome,
    ProposalParams,
    ProposalState,
    Roles,
    SecretVoteState,
    SecretVoteView,
)

TEXTS_PATH = "/v1/texts"
BPS = 10_000
YES_NO_OPTIONS = 3  # yes, no, abstain: the contract's BallotKind.YesNoAbstain
PERIOD = re.compile(r"^(\d+)([smhd]?)$")
PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "": 86_400}
MONEY = re.compile(r"^\d{1,13}([.,]\d{1,2})?$")
# The proposal opens this long before the block its signing saw, so that it is open at once
# whenever the relay lands it.
OPEN_LEAD_S = 1
# A secret proposal is opened, then linked to its vote, in two acts that must both land before
# the vote opens (Council refuses a link once its proposal has opened); through the relay each
# takes a few seconds.
SECRET_LINK_LEAD_S = 60


@dataclass(frozen=True)
class ProposalDraft:
    """What the committee member gives: the text itself, how ballots read, for how long, and the
    bars a result must clear (basis points of the roll for quorum, of ballots for threshold)."""

    community: int
    text: str
    kind: BallotKind
    options: int
    period_s: int
    quorum_bps: int
    threshold_bps: int
    budget: int = 0  # minor units (fen, cents)
    currency: bytes = b"\x00\x00\x00"
    # a secret proposal's secret vote: its window replaces `period_s`
    secret: SecretVoteTerms | None = None

    @property
    def text_hash(self) -> bytes:
        return bytes.fromhex(text_hash(self.text)[2:])


@dataclass(frozen=True)
class SecretVoteTerms:
    """What a secret proposal must share with the secret vote that decides it."""

    vote_id: int
    community: int
    question_hash: bytes
    options: int
    opens_at: int
    closes_at: int


def draft(
    community: int,
    text: str,
    *,
    multi: int | None,
    period: str,
    quorum_percent: str,
    threshold_percent: str,
    budget: str | None = None,
    currency: str | None = None,
    secret: SecretVoteTerms | None = None,
) -> ProposalDraft:
    """A draft from what a person types; refuses, in one sentence, what no proposal can be.
    `multi` is the number of options of a multiple-choice proposal (None: yes/no/abstain);
    `secret` the secret vote that decides it (None: open ballots)."""
    if not text.strip():
        raise AdminRefused("the proposal's text is empty")
    if secret is None:
        kind = BallotKind.YesNoAbstain if multi is None else BallotKind.MultipleChoice
    else:
        kind = BallotKind.SecretYesNoAbstain if multi is None else BallotKind.SecretMultipleChoice
    quorum = basis_points(quorum_percent, "quorum")
    threshold = basis_points(threshold_percent, "threshold")
    if quorum > BPS:
        raise AdminRefused(f"a quorum of {quorum_percent}% is more than the whole roll (100%)")
    if threshold >= BPS:
        raise AdminRefused(f"a threshold of {threshold_percent}% can never be exceeded (< 100%)")
    if kind in (BallotKind.YesNoAbstain, BallotKind.SecretYesNoAbstain) and threshold < BPS // 2:
        raise AdminRefused(
            f"a yes/no threshold of {threshold_percent}% would let both yes and no pass: "
            "50% or more"
        )
    amount = minor_units(budget) if budget else 0
    code = b"\x00\x00\x00"
    if amount:
        if not currency:
            raise AdminRefused("a budget needs its currency (--currency, e.g. CNY)")
        code = currency_code(currency)
    return ProposalDraft(
        community,
        text,
        kind,
        YES_NO_OPTIONS if multi is None else multi,
        period_seconds(period),
        quorum,
        threshold,
        amount,
        code,
        secret,
    )


def period_seconds(text: str) -> int:
    """'7d', '12h', '30m', '90s' (a bare number is days) in seconds; more than zero."""
    found = PERIOD.match(text.strip())
    if found is None:
        raise AdminRefused(f"{text!r} is not a voting period: a number and s, m, h or d, e.g. 7d")
    seconds = int(found.group(1)) * PERIOD_UNITS[found.group(2)]
    if seconds == 0:
        raise AdminRefused("a voting period of 0 would close the proposal before anyone votes")
    return seconds


def basis_points(percent: str, what: str) -> int:
    """A percentage with up to two decimals (30, 66.67) in basis points."""
    try:
        value = Decimal(percent.strip())
    except InvalidOperation:
        raise AdminRefused(
            f"the {what} {percent!r} is not a percentage, e.g. 30 or 66.67"
        ) from None
    bps = value * 100
    if bps < 0 or bps != bps.to_integral_value():
        raise AdminRefused(f"the {what} {percent!r}% must be 0 or more, with two decimals at most")
    return int(bps)


def minor_units(amount: str) -> int:
    """'1200.5' in minor units (120050), as the page reads money: two decimals at most."""
    text = amount.strip()
    if not MONEY.match(text):
        raise AdminRefused(f"the budget {amount!r} is not an amount such as 1200.50")
    return int(Decimal(text.replace(",", ".")) * 100)


def check_draft(chain: AdminChain, proposal: ProposalDraft) -> None:
    """What the contract bounds by its own constants: the number of options, the period."""
    council, registry = chain.deployment.council.functions, chain.registry.functions
    if proposal.secret is not None:
        _check_secret(proposal, proposal.secret)
        taken = council.proposalOfSecretVote(proposal.secret.vote_id).call()
        if taken:
            raise AdminRefused(
                f"secret vote {proposal.secret.vote_id} already decides proposal {taken}"
            )
    if proposal.kind in (BallotKind.MultipleChoice, BallotKind.SecretMultipleChoice):
        most = council.MAX_OPTIONS().call()
        if not 2 <= proposal.options <= most:
            raise AdminRefused(
                f"a multiple-choice proposal has 2 to {most} options, not {proposal.options}"
            )
    longest = registry.ROLL_SNAPSHOT_LIFETIME().call()
    if proposal.period_s > longest:
        raise AdminRefused(
            f"a voting period of {proposal.period_s // 86_400} days is longer than the roll "
            f"snapshot is kept ({longest // 86_400} days)"
        )
    roll = chain.view("registry", "rollSnapshot", proposal.community)
    if roll["size"] == 0:
        raise AdminRefused(
            f"community {proposal.community} has no published roll: no one could vote "
            "(the registrar publishes it with `commons admin roll`)"
        )


def open_proposal(proposal: ProposalDraft, now: int) -> AdminCall:
    """The act, open from `now` (the chain's latest block time) for the draft's period, or in
    its secret vote's window."""
    terms = proposal.secret
    params = ProposalParams(
        communityId=proposal.community,
        textHash=proposal.text_hash,
        kind=proposal.kind,
        optionCount=proposal.options,
        opensAt=now - OPEN_LEAD_S if terms is None else terms.opens_at,
        closesAt=now + proposal.period_s if terms is None else terms.closes_at,
        quorumBps=proposal.quorum_bps,
        thresholdBps=proposal.threshold_bps,
        budgetAmount=proposal.budget,
        budgetCurrency=proposal.currency,
    )
    kind = (
        "yes/no/abstain"
        if proposal.kind in (BallotKind.YesNoAbstain, BallotKind.SecretYesNoAbstain)
        else f"{proposal.options}-option"
    )
    if terms is not None:
        kind += f" secret-ballot (secret vote {terms.vote_id})"
    budget = (
        f", asking {proposal.budget / 100:.2f} {proposal.currency.decode()}"
        if proposal.budget
        else ""
    )
    closes = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(params.closesAt))
    return AdminCall(
        "council",
        Functions.openProposal,
        # A plain tuple: web3 encodes a struct from one, not from a NamedTuple.
        (tuple(params),),
        f"open a {kind} proposal in community {proposal.community} on the text with hash "
        f"0x{proposal.text_hash.hex()}, voting until {closes}, quorum "
        f"{proposal.quorum_bps / 100:g}% of the roll, passing above "
        f"{proposal.threshold_bps / 100:g}%{budget}",
        Signer.ROLE,
        "ProposalOpened",
        proposal.community,
        Roles.COMMITTEE,
    )


def publish_result(chain: AdminChain, proposal_id: int) -> AdminCall:
    """Finalize a closed proposal: the contract counts and records passed / rejected / no
    quorum. Anyone may; refused in one sentence while voting is open or once published."""
    council = chain.deployment.council.functions
    count = council.proposalCount().call()
    if not 1 <= proposal_id <= count:
        raise AdminRefused(f"there is no proposal {proposal_id} (proposals: 1 to {count})")
    view = council.getProposal(proposal_id).call()
    state = ProposalState(view.state)
    if state is ProposalState.Finalized:
        raise AdminRefused(
            f"proposal {proposal_id}'s result is already published: {Outcome(view.outcome).name}"
        )
    if state is not ProposalState.Closed:
        closes = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(view.closesAt))
        raise AdminRefused(f"proposal {proposal_id} is still {state.name.lower()} until {closes}")
    if is_secret(view.kind):
        _check_secret_tally(chain, proposal_id)
    return AdminCall(
        "council",
        Functions.finalize,
        (proposal_id,),
        f"publish proposal {proposal_id}'s result (community {view.communityId}): the contract "
        "counts the ballots and records the outcome",
        Signer.ANYONE,
        "ProposalFinalized",
        matches=(("proposalId", proposal_id),),
    )


def secret_vote_terms(chain: AdminChain, vote_id: int) -> SecretVoteTerms:
    """The terms of secret vote `vote_id` a proposal it decides must share (read by name)."""
    secret = chain.deployment.secret.functions
    count = secret.secretVoteCount().call()
    if not 1 <= vote_id <= count:
        raise AdminRefused(f"there is no secret vote {vote_id} (secret votes: 1 to {count})")
    v = SecretVoteView(**secret.getSecretVote(vote_id).call()._asdict())
    return SecretVoteTerms(
        vote_id, v.communityId, bytes(v.questionHash), v.optionCount, v.opensAt, v.closesAt
    )


def secret_vote_text(api: RelayApi, terms: SecretVoteTerms) -> str:
    """The vote's question and options as stored through the API: the proposal's text."""
    wanted = "0x" + terms.question_hash.hex()
    text = str(api.get(f"{TEXTS_PATH}/{wanted}").get("text", ""))
    if text_hash(text) != wanted:
        raise AdminRefused(
            f"the API at {api.api_url} holds no text of hash {wanted} (secret vote "
            f"{terms.vote_id}'s question); open the vote with `commons secret open`"
        )
    return text


def _check_secret(proposal: ProposalDraft, terms: SecretVoteTerms) -> None:
    """What ICouncil.linkSecretVote will check, refused before anything is signed."""
    if terms.community != proposal.community:
        raise AdminRefused(
            f"secret vote {terms.vote_id} is of community {terms.community}, "
            f"not {proposal.community}"
        )
    if terms.options != proposal.options:
        raise AdminRefused(
            f"secret vote {terms.vote_id} has {terms.options} options; the proposal "
            f"{proposal.options} (a yes-no proposal: 3)"
        )


def check_link_time(terms: SecretVoteTerms, now: int) -> None:
    """Refuses a secret proposal whose vote opens too soon to open the proposal and link it
    before then (`now`: the chain's latest block time)."""
    if terms.opens_at - now < SECRET_LINK_LEAD_S:
        opens = _utc(terms.opens_at)
        when = "opened" if terms.opens_at <= now else f"opens in {terms.opens_at - now} s"
        raise AdminRefused(
            f"secret vote {terms.vote_id} {when} (at {opens}): a proposal must be opened and "
            f"linked to it before that, which needs at least {SECRET_LINK_LEAD_S} s; open a "
            "secret vote that opens later (`commons secret open`) and open the proposal on it"
        )


def link_to_secret_vote(chain: AdminChain, proposal_id: int, vote_id: int) -> AdminCall:
    """The link of a proposal opened without it (`link_secret_vote`), checked first: refused in
    one sentence for a proposal that is not secret, is linked already, or has opened."""
    council = chain.deployment.council.functions
    count = council.proposalCount().call()
    if not 1 <= proposal_id <= count:
        raise AdminRefused(f"there is no proposal {proposal_id} (proposals: 1 to {count})")
    view = council.getProposal(proposal_id).call()
    if not is_secret(view.kind):
        raise AdminRefused(
            f"proposal {proposal_id} is decided by open ballots ({BallotKind(view.kind).name}); "
            "only a secret-ballot proposal is linked to a secret vote"
        )
    linked = council.secretVoteOf(proposal_id).call()
    if linked:
        raise AdminRefused(f"proposal {proposal_id} is already decided by secret vote {linked}")
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    if view.opensAt <= now:
        raise AdminRefused(
            f"proposal {proposal_id} opened at {_utc(view.opensAt)}; a secret vote can be "
            "linked only before its proposal opens, so it can never be decided: open a new "
            "proposal on a secret vote that opens later"
        )
    secret_vote_terms(chain, vote_id)  # the vote exists
    return link_secret_vote(int(view.communityId), proposal_id, vote_id)


def _utc(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def link_secret_vote(community: int, proposal_id: int, vote_id: int) -> AdminCall:
    """The act that makes secret vote `vote_id`'s tally decide proposal `proposal_id`."""
    return AdminCall(
        "council",
        Functions.linkSecretVote,
        (proposal_id, vote_id),
        f"link secret vote {vote_id} to proposal {proposal_id} (community {community}): its "
        "tally will decide the proposal",
        Signer.ROLE,
        "SecretVoteLinked",
        community,
        Roles.COMMITTEE,
        (("proposalId", proposal_id), ("voteId", vote_id)),
    )


def _check_secret_tally(chain: AdminChain, proposal_id: int) -> None:
    """A secret proposal's result waits for its linked vote's tally (none linked: no wait),
    until SECRET_TALLY_GRACE after the vote's challenge window: then it is published as
    TallyNeverPublished."""
    vote_id = chain.deployment.council.functions.secretVoteOf(proposal_id).call()
    if not vote_id:
        return
    secret = chain.deployment.secret.functions
    state = SecretVoteState(secret.secretVoteState(vote_id).call())
    if state in (SecretVoteState.Finalized, SecretVoteState.KeyFailed):
        return
    vote = SecretVoteView(**secret.getSecretVote(vote_id).call()._asdict())
    deadline = vote.challengesUntil + chain.deployment.council.functions.SECRET_TALLY_GRACE().call()
    if int(chain.w3.eth.get_block("latest")["timestamp"]) < deadline:
        raise AdminRefused(
            f"proposal {proposal_id} is decided by secret vote {vote_id}, which has no tally "
            f"yet ({state.name}): its trustees decrypt and `commons secret finalize {vote_id}` "
            f"comes first; from {_utc(deadline)} without it, anyone may publish the proposal "
            "as not decided"
        )


def store_text(api: RelayApi, proposal: ProposalDraft) -> None:
    """Store the text through the API; the hash it reports must be the one signed."""
    stored = api.post(TEXTS_PATH, {"text": proposal.text})
    expected = "0x" + proposal.text_hash.hex()
    if str(stored.get("hash", "")).lower() != expected:
        raise AdminRefused(
            f"the API at {api.api_url} stored the text under hash {stored.get('hash')}, "
            f"not its keccak256 {expected}; nothing was signed"
        )
