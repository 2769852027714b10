"""What an audit returns: findings (a rule broken, where, what was expected and found), warnings
(what could not be checked), and the figures it recomputed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

# Every rule the audit checks, by id. Ids are stable: reports, tests and docs name them.
RULES: Final[dict[str, str]] = {
    # the chain itself
    "chain.parent_hash": "each block's parentHash is the hash of the block before it",
    "chain.block_hash": "a block's header fields hash to its hash",
    "chain.tx_root": "a block's transactions hash to its transactionsRoot",
    "chain.receipts_root": "a block's receipts hash to its receiptsRoot",
    "chain.tx_hash": "a transaction's signed fields hash to its hash",
    "chain.sender": "a transaction's signature recovers to the sender the node reports",
    "chain.pin": "every head an earlier signed report audited (number, hash, state root) is "
    "still on the chain, unchanged",
    # the deployment record and the code
    "deploy.record": "the deployment file is complete and consistent with itself",
    "deploy.creation": "the recorded transaction created the recorded address, in its block",
    "deploy.code": "the code at an address is the fresh compile of the recorded contract",
    "deploy.claim": "the deployment file's runtime-bytecode hash matches the fresh compile",
    "deploy.wiring": "each contract points at the recorded forwarder, registry and council",
    "build.compiler": "the recorded compiler version is the one that compiles the sources",
    # forwarded (ERC-2771) requests
    "forward.signature": "an executed forward request is signed (EIP-712, low s) by its sender",
    "forward.nonce": "forward requests execute with the sender's next nonce",
    "forward.execution": "the forwarder executed exactly the requests that were valid",
    # events against their calls
    "event.actor": "the account an event names as acting is the call's sender",
    "event.unexplained": "every event of our contracts follows from a call that emits it",
    # registry
    "registry.permission": "only the admin changes roles; only a registrar changes the roll",
    "registry.roll": "roll changes and publications follow the roll rules and sizes",
    "registry.rotation": "a registrar replaces a resident's key once, with a fresh key, swapping "
    "them on the roll in a published version; a replaced key never rejoins",
    "registry.community": "communities are numbered from 1 with the creator as admin",
    "registry.auditor_key": "a report key is registered once, by a current AUDITOR of its "
    "community for itself, and revoked at most once, by its auditor or the community's admin",
    "registry.auditor_key_view": "the Registry's auditorKey view of every registered key equals "
    "the registration rebuilt from its events",
    # council
    "council.proposal": "a committee member (or the Initiatives contract, for a reached "
    "initiative) opens a proposal, with the current roll snapshot",
    "council.ballot_window": "ballots count only while their proposal is open",
    "council.ballot_option": "a ballot's option is one of its proposal's options",
    "council.ballot_signature": "a relayed ballot is signed (EIP-712, low s) by its voter",
    "council.ballot_digest": "BallotCast carries the ballot's EIP-712 digest",
    "council.ballot_eligibility": "a voter was on the roll at the proposal's snapshot",
    "council.double_vote": "one ballot per voter per proposal",
    "council.ballot_event": "each relayed ballot is counted or skipped exactly as the rules say",
    "council.tally": "the on-chain tally equals the recount of the ballots",
    "council.outcome": "the finalized outcome follows from the tally, quorum and threshold",
    "council.milestone": "milestones are recorded by the committee for passed proposals only",
    "council.secret_link": "a committee member links a secret proposal, before it opens, to one "
    "secret vote no other proposal has, of its community, text, option count, times and roll",
    "council.secret_ballot": "a secret proposal counts no open, relayed or proxy ballot",
    "council.secret_tally": "a secret proposal is finalized on its secret vote's finalized tally "
    "(an empty one without a link or with a failed key)",
    # elections
    "elections.election": "a committee member opens an election with valid parameters and the "
    "current roll snapshot",
    "elections.ballot": "a counted election ballot is well formed, cast in its window, signed "
    "(EIP-712, low s) by a voter on the roll at the snapshot, once",
    "elections.count": "every round, transfer and winner of an election follows from the "
    "recount of its ballots by IElections' rules",
    # participatory budgeting
    "budget.round": "a committee member opens a round with valid parameters and the current "
    "roll snapshot",
    "budget.project": "a resident on the round's roll submits a project in the submission window "
    "for 1..budget; only the committee marks one ineligible, before voting opens",
    "budget.ballot": "a counted budget ballot is cast in its window, signed (EIP-712, low s) by a "
    "voter on the roll at the snapshot, once, naming eligible projects within the rule's limits",
    "budget.count": "the contract's ballot count and each project's votes equal the recount",
    "budget.selection": "the selection runs once after voting closes, on min(budget, the fund's "
    "available), and its walk equals the reference greedy selection over the recount",
    "budget.grant": "each selected project gets one CommunityFund grant for its cost, opened by "
    "the ParticipatoryBudget contract, and no other grant carries a budget grant id",
    "budget.milestone": "a committee member records a selected project's milestones in order, "
    "with evidence, none after the one that completes it",
    # secret ballots
    "secret.vote": "a committee member opens a secret vote with valid parameters and the current "
    "roll snapshot",
    "secret.dkg": "trustees register keys, deal, complain and answer in their windows; each "
    "answer's Feldman check, the disqualified, the qualified set, the election key and the "
    "verification keys follow from what they posted",
    "secret.ballot": "a counted secret ballot is cast while the vote is open, signed (EIP-712, low "
    "s) by a voter on the roll at the snapshot, once, with points of G1; each batch's hash is of "
    "its counted ballots",
    "secret.proof": "every counted secret ballot's proofs hold, or it was voided by a challenge",
    "secret.challenge": "a secret ballot is voided only in the challenge window and only when its "
    "proofs fail",
    "secret.partial": "partial decryptions come from qualified trustees after the challenge "
    "window, each proven against the trustee's verification key and the re-derived aggregate",
    "secret.tally": "the finalized tally is the decryption of the re-derived aggregate of the "
    "counted, non-voided ballots, by the first threshold trustees that published, and sums to them",
    "paper.declare": "a paper box is declared by a committee member of the election's "
    "community before voting opens, with 1..2000 residents on the election's roll snapshot and in "
    "no other box; only its residents are skipped as a paper box's",
    "paper.totals": "a box's totals count only once two different officers holding POLL_OFFICER "
    "at that block signed (EIP-712, low s) the same entries and certificate while the election "
    "was open, with patterns Elections takes and no more ballots than residents assigned; "
    "Elections takes paper ballots only from those totals",
    "poll.in_person": "an in-person ballot is handed to Elections only when signed (EIP-712, low "
    "s) by an officer holding POLL_OFFICER in the election's community at that block, and "
    "Elections takes ballots without a voter's signature only from the poll office, only those "
    "it vouched for",
    "elections.proxy": "an election proxy ballot counts only when signed (EIP-712, low s) by the "
    "proxy the voter's live mandate names for this election or every vote, both on the election's "
    "roll snapshot, the voter not yet voted, the proxy under the community's limit on the "
    "election; the voter's own ballot takes its place, so the recount reads each voter's one "
    "ballot",
    # ratings
    "rating.open": "a proposal's ratings open only once it passed and its execution was marked "
    "completed, on the roll published then, for the rating period",
    "rating.judged": "each relayed rating is counted or skipped exactly as the rules say (window, "
    "score 1..5, EIP-712 signature by its rater, roll at the snapshot, once a resident)",
    "rating.digest": "Rated carries the rating's EIP-712 digest",
    "rating.count": "a proposal's on-chain rating count and score sum equal the recount",
    # proxies
    "mandate.judgement": "each relayed appointment or revocation is counted or skipped exactly "
    "as the mandate rules say (signed by the resident, in nonce order, residents only, no self "
    "proxy, the proxy under the limit)",
    "mandate.limit": "only a community's admin sets its proxy limit",
    "council.proxy_ballot": "each proxy ballot is counted or skipped exactly as the rules say "
    "(signed by the proxy the resident's live mandate names, not after the resident's own "
    "ballot, the proxy under the limit on that proposal)",
    "council.proxy_override": "a resident's own ballot takes the place of their proxy ballot",
    # initiatives
    "initiative.rules": "only a community's admin sets its initiative rules, within their bounds",
    "initiative.submission": "a resident on the published roll submits an initiative, which "
    "snapshots that roll and the community's rules",
    "initiative.cosignature": "each relayed co-signature is counted or skipped exactly as the "
    "rules say (window, EIP-712 signature by its signer, roll at the snapshot, once a resident)",
    "initiative.digest": "CoSigned carries the co-signature's EIP-712 digest",
    "initiative.count": "an initiative's on-chain count equals the recount of its co-signatures",
    "initiative.promotion": "the batch that reaches the threshold opens the council proposal "
    "the initiative describes; no proposal is opened in an initiative's name otherwise",
    # fund
    "fund.permission": "fund actions are taken by the admin / committee members they require",
    "fund.currency": "every amount of a fund is in its one currency, a code of three letters A-Z",
    "fund.grant": "a grant is opened once, for a passed proposal, within its budget and currency",
    "fund.approvals": "a payout has N distinct approvals from current committee members",
    "fund.self_approval": "the requester of a payout never approves it",
    "fund.negative": "no balance, grant or reserve ever goes below zero or pays more than it holds",
    "fund.balance": "the contract's fund, grant and payout views equal the rebuilt books",
    # time bank
    "timebank.signature": "a service record (or reversal) is signed by both sides",
    "timebank.resident": "both members of a service are on the roll",
    "timebank.nonce": "a (community, provider, nonce) record counts once",
    "timebank.limit": "balances stay within the community's floor and ceiling",
    "timebank.reversal": "only a recorded service, exactly as recorded and proven in its batch, "
    "is reversed, at most once",
    "timebank.batch": "each recording call commits once, last, to the ids it recorded, in order",
    "timebank.record_event": "each relayed record is recorded or skipped exactly as the rules say",
    "timebank.rotation": "a balance moves only along a recorded key rotation, once, by a "
    "registrar, and whole",
    "timebank.sum": "a community's balances sum to zero",
    "timebank.balance": "the contract's balanceOf equals the rebuilt balance",
    # the relay's signed acknowledgements (given with --acks)
    "relay.censored": "a message the relay acknowledged is on the chain by the block its "
    "acknowledgement promised",
    "relay.late": "an acknowledged message lands no later than the block its acknowledgement "
    "promised",
    # re-execution in an independent EVM
    "reexec.outcome": "each transaction to our contracts succeeds or reverts again in revm as "
    "its receipt says",
    "reexec.creation": "each deployment, run again, creates the recorded address",
    "reexec.storage": "each contract's whole storage is what re-executing every transaction "
    "leaves, proven against the block's stateRoot",
    "reexec.code": "each contract's code is what its re-executed deployment left, immutables "
    "included, proven against the block's stateRoot",
    # what a running API serves
    "api.served": "the API's proposals and tallies, ballots, time-bank balances and fund trail "
    "are what the chain says at the audited block",
    "api.page": "the page a running API serves is, byte for byte, a fresh build of web/",
    # state proofs
    "state.proof": "storage behind a recomputed value is proven against the block's stateRoot",
    "state.code_hash": "the proven code hash of each contract is the hash of the code compared",
}


@dataclass(frozen=True)
class Finding:
    """A rule broken: where (block, tx), what the rules imply (expected) and what is there."""

    rule: str
    block: int | None
    tx: str | None
    expected: str | None
    found: str | None
    detail: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(
            str(data["rule"]),
            data.get("block"),
            data.get("tx"),
            data.get("expected"),
            data.get("found"),
            str(data.get("detail", "")),
        )

    def key(self) -> tuple[str, int | None, str | None, str]:
        return (self.rule, self.block, self.tx, self.detail)


@dataclass(frozen=True)
class AuditWarning:
    """Something the audit could not check (it is not a finding: nothing is known to be wrong)."""

    topic: str
    block: int | None
    tx: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditResult:
    """The whole outcome of one audit. `report` is the JSON document written and signed."""

    findings: list[Finding]
    warnings: list[AuditWarning]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped(self) -> list[dict[str, str]]:
        """Checks the node did not let the audit make (a method it does not answer)."""
        return list(self.report.get("skipped_checks", []))

    @property
    def ok(self) -> bool:
        """Clean: no finding, and every check made (a check skipped is never clean)."""
        return not self.findings and not self.skipped

    def rules_broken(self) -> set[str]:
        return {f.rule for f in self.findings}
