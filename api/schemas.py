"""Pydantic schemas for every body and response, split by direction (`...In` / `...Out`)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
Hex32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature65 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]
HexBytes_ = Annotated[str, StringConstraints(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=65_538)]
Uint256 = Annotated[int, Field(ge=0, lt=2**256)]
# An id of an on-chain thing in a path: a uint256, so that any larger or negative number is
# refused as invalid input instead of failing in the ABI encoder.
OnChainId = Annotated[int, Path(ge=0, lt=2**256)]
# Pages start below 2^53: past any real row count, and SQLite's integers stop at 2^63.
MAX_OFFSET = 2**53

T = TypeVar("T")


# Request bodies: no unknown fields, and no coercion. An integer is a JSON integer: never
# "7", 7.0 or true (which pydantic would otherwise take as 7, 7 and 1), so the schema a client
# reads is the one it is held to. Integers beyond 2^53 (uint256 values) are JSON integers too:
# Python's JSON reads them exactly; JavaScript clients send them as BigInt-serialized numbers.
STRICT = ConfigDict(extra="forbid", strict=True)


class Strict(BaseModel):
    model_config = STRICT


class CamelOut(BaseModel):
    """A response whose fields are camelCase on the wire, as the signed messages (EIP-712) and the
    page name them; Python code builds it with the snake_case names."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


class Page(CamelOut, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# --- relay ------------------------------------------------------------------------------------


class AckOut(CamelOut):
    """The relay's signed promise (EIP-712 `Acknowledgement(bytes32 message, uint64 acceptedAt,
    uint64 landBy)`, domain "CommonsRelay" v1 on this chain and forwarder): keep it; a message
    acknowledged and not on the chain by `landBy` is provable with it."""

    message: str = Field(description="the EIP-712 digest the sender signed")
    accepted_at: int = Field(description="unix seconds")
    land_by: int = Field(description="the block by which the message will be on the chain")
    relayer: str = Field(description="the relayer address that signed this acknowledgement")
    signature: str = Field(description="65 bytes r ‖ s ‖ v, by `relayer`")


# Every kind of signed message the relay takes (ledger/relay: each kind's `name`).
MessageKind = Literal[
    "ballot",
    "service",
    "forward",
    "election-ballot",
    "cosignature",
    "rating",
    "mandate",
    "proxy-ballot",
    "budget-ballot",
    "in-person-ballot",
    "secret-ballot",
    "box-totals",
    "election-proxy-ballot",
]


class ReceiptOut(CamelOut):
    """What the relay knows of one acknowledged message."""

    id: str = Field(description="receipt id: keccak256 of the kind and the canonical message")
    kind: MessageKind
    status: Literal["queued", "sent", "included", "counted", "rejected"]
    signer: str
    tx_hash: str | None
    block: int | None
    detail: str | None = Field(description="ballot digest when counted; the reason when rejected")
    accepted_at: float = Field(description="unix time the message was stored and acknowledged")
    updated_at: float = Field(description="unix time of the latest status change")
    ack: AckOut | None = Field(
        default=None,
        description="the relayer's signed acknowledgement (absent for messages "
        "acknowledged before acknowledgements were signed)",
    )


class AckedOut(CamelOut):
    """One acknowledged message as the relay exports it: the signed acknowledgement with what
    it names (the receipt, its kind and the signed payload), so anyone can check it landed."""

    position: int = Field(description="its place in the outbox, in acceptance order")
    id: str = Field(description="receipt id")
    kind: MessageKind
    status: Literal["queued", "sent", "included", "counted", "rejected"]
    payload: dict[str, Any] = Field(description="the signed message, as it was accepted")
    ack: AckOut


class AcksPage(CamelOut):
    """A page of acknowledgements, oldest first."""

    items: list[AckedOut]
    next_after: int | None = Field(
        description="`after` for the next page (the last item's position); null on the last page"
    )


class NonceOut(BaseModel):
    address: str
    nonce: int = Field(description="the nonce the next ForwardRequest of this address must carry")


class BallotIn(Strict):
    """A resident's EIP-712 ballot: Ballot(uint256 proposalId,address voter,uint8 option) under
    the domain ("CommonsCouncil", "1", chainId, council address)."""

    proposalId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    option: Annotated[int, Field(ge=0, le=255)]
    signature: Signature65


class ElectionBallotIn(Strict):
    """A resident's EIP-712 election ballot: ElectionBallot(uint256 electionId,address voter,
    uint64 choices) under the domain ("CommonsElections", "1", chainId, elections address);
    `choices` as docs/elections.md encodes a ranking or an approval set."""

    electionId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    choices: Annotated[int, Field(ge=0, lt=2**64)]
    signature: Signature65


class InPersonBallotIn(Strict):
    """A poll officer's EIP-712 in-person ballot for a resident present at the polling place:
    InPersonBallot(uint256 electionId,address voter,uint64 choices,address officer) under the
    domain ("CommonsPollOffice", "1", chainId, poll office address), signed by `officer`;
    `choices` encoded as an online ballot's."""

    electionId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    choices: Annotated[int, Field(ge=0, lt=2**64)]
    officer: Address
    signature: Signature65


class BoxTotalsIn(Strict):
    """A poll officer's EIP-712 totals of a paper box: BoxTotals(uint256 boxId,uint64[] choices,
    uint32[] counts,bytes32 certificateHash,address officer) under the poll office's domain,
    signed by `officer`; `choices[i]` a ballot pattern encoded as an online ballot's, `counts[i]`
    the ballots carrying it, `certificateHash` keccak256 of the closure certificate's photo."""

    boxId: Annotated[int, Field(ge=1, lt=2**256)]
    choices: Annotated[list[Annotated[int, Field(ge=0, lt=2**64)]], Field(max_length=256)]
    counts: Annotated[list[Annotated[int, Field(ge=0, lt=2**32)]], Field(max_length=256)]
    certificateHash: Hex32
    officer: Address
    signature: Signature65


class ForwardRequestIn(Strict):
    """An ERC-2771 ForwardRequest signed (EIP-712, domain "CommonsForwarder" v1) by `from`."""

    from_: Address = Field(alias="from")
    to: Address
    value: Uint256 = 0
    gas: Annotated[int, Field(ge=21_000, le=10_000_000)]
    nonce: Uint256
    deadline: Annotated[int, Field(ge=0, lt=2**48)]
    data: HexBytes_
    signature: Signature65

    model_config = ConfigDict(**STRICT, populate_by_name=True)

    def payload(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"from_"}), "from": self.from_}


class ServiceRecordIn(Strict):
    provider: Address
    recipient: Address
    minutesServed: Annotated[int, Field(ge=1, lt=2**32)]
    category: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{16}$")]
    noteHash: Hex32
    nonce: Uint256


class SignedServiceIn(Strict):
    """A service record with both sides' EIP-712 signatures (the recipient's, or for service to
    the community a coordinator's)."""

    communityId: Annotated[int, Field(ge=1, lt=2**256)]
    record: ServiceRecordIn
    providerSig: Signature65
    recipientSig: Signature65


# --- chain ------------------------------------------------------------------------------------


class ChainOut(CamelOut):
    chain_id: int
    head: int
    head_timestamp: int = Field(description="the head block's time: the chain's clock")
    indexed_head: int | None
    deployment_block: int
    contracts: dict[str, str]
    build_manifest_hash: str
    relay: dict[str, int] = Field(description="messages per receipt status")


class IndexHealthOut(CamelOut):
    consistent: bool = Field(description="the index agrees with the chain's logs")
    problem: str | None = Field(description="what disagrees, while it does")


class HealthOut(CamelOut):
    ok: bool
    head: int = Field(description="the node's newest block")
    index: IndexHealthOut


class ContractOut(CamelOut):
    address: str
    abi: list[dict[str, Any]]


# --- auth -------------------------------------------------------------------------------------


class ChallengeIn(Strict):
    address: Address


class ChallengeOut(CamelOut):
    nonce: str
    message: str = Field(description="sign this text with personal_sign (EIP-191)")
    expires_at: float


class LoginIn(Strict):
    nonce: Annotated[str, StringConstraints(max_length=64)]
    signature: Signature65


class LoginOut(CamelOut):
    address: str
    token: str
    expires_at: float


# --- texts and people ------------------------------------------------------------------------


class TextIn(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


class TextOut(CamelOut):
    hash: str = Field(
        description="keccak256 of the UTF-8 text; what a proposal's textHash commits to"
    )
    text: str


class PersonIn(Strict):
    address: Address
    person: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class PersonOut(CamelOut):
    address: str
    person: str
    recorded_by: str
    recorded_at: float


# --- events, proposals, communities, fund, time bank --------------------------------------------


class EventOut(CamelOut):
    """One contract event as indexed from the chain (ints as decimal strings where > 2^53)."""

    block: int
    tx_hash: str
    log_index: int
    event: str
    args: dict[str, Any]


class ProposalOut(CamelOut):
    id: int
    community_id: int
    proposer: str
    text_hash: str
    text: str | None = Field(description="the full text if this service holds it")
    text_matches: bool | None = Field(description="keccak256(text) == textHash; null without text")
    kind: Literal["YesNoAbstain", "MultipleChoice", "SecretYesNoAbstain", "SecretMultipleChoice"]
    secret_vote_id: int | None = Field(
        description="a Secret kind's linked secret vote, whose tally decides it (null: none yet)"
    )
    option_count: int
    opens_at: int
    closes_at: int
    quorum_bps: int
    threshold_bps: int
    budget_amount: int
    budget_currency: str
    roll_version: int
    roll_size: int
    state: Literal["Pending", "Open", "Closed", "Finalized"]
    outcome: Literal["None", "Passed", "Rejected", "NoQuorum", "TallyNeverPublished"]
    winning_option: int
    tally: list[int]
    turnout: int
    execution: Literal["NotStarted", "InProgress", "Completed"]
    milestone_count: int


class CommunityOut(CamelOut):
    id: int
    admin: str
    roll_version: int
    roll_size: int
    committee_size: int
    roles: dict[str, list[str]]


class BoxCountOut(CamelOut):
    """A counted paper box's ballots; `label` from the text store (None if nobody stored it)."""

    box_id: int
    label: str | None
    ballots: int


class BoxSignatureOut(CamelOut):
    """One officer's signed totals of a box, as the chain's calldata holds them."""

    officer: str
    totals_hash: str
    choices: list[str]  # decimal: a ranking's 64 bits are past what a JSON number keeps exactly
    counts: list[int]
    certificate_hash: str


class PaperBoxOut(CamelOut):
    """A paper box: its declaration, the officers' signed totals so far, and its count."""

    box_id: int
    election_id: int
    label_hash: str
    label: str | None
    voters: list[str]  # the residents assigned to it, as declared
    signatures: list[BoxSignatureOut]
    ballots: int | None  # once two officers' totals counted
    totals_hash: str | None


class ElectionOut(CamelOut):
    election_id: int
    community_id: int
    candidates: list[str]  # keccak256 of each candidate's statement, 0x-hex
    seats: int
    kind: Literal["Ranked", "Approval"]
    max_choices: int
    opens_at: int
    closes_at: int
    roll_version: int
    roll_size: int
    state: Literal["Pending", "Open", "Closed", "Counted"]
    ballot_count: int
    # ballot_count by channel: signed by the resident, by a poll officer at the polling place,
    # or by the resident's proxy (a proxy ballot the resident's own replaced is not one)
    online_count: int
    in_person_count: int
    # ballots counted from paper boxes, and per box (IPaperBoxes: two officers' totals)
    paper_count: int
    box_counts: list[BoxCountOut]
    proxy_count: int
    tally: list[int]  # approval: approvals; ranked: the last completed round
    winners: list[int]  # in the order seats were filled
    # Each candidate's statement from the text store (keyed by its keccak256, so a text found
    # is the one the chain committed to), or None when nobody stored it.
    statements: list[str | None]


class ElectionRoundOut(CamelOut):
    """One round of a seat's count, as the RoundCounted (and VotesTransferred) events say."""

    round: int
    tally: list[int]  # votes per candidate (0 for those no longer continuing)
    exhausted: int
    eliminated: int | None  # the candidate out after this round; None if it filled the seat
    transferred_from: int | None  # the candidate whose ballots moved into this round
    received: list[int] | None  # what each candidate gained from them


class ElectionSeatOut(CamelOut):
    seat: int  # 1-based
    rounds: list[ElectionRoundOut]
    elected: int | None  # None while the seat's count is under way
    votes: int | None


class ElectionRoundsOut(CamelOut):
    """The count so far, seat by seat and round by round, replayed from the index."""

    election_id: int
    kind: Literal["Ranked", "Approval"]
    seats: list[ElectionSeatOut]


class FundOut(CamelOut):
    community_id: int
    currency: str
    approval_threshold: int
    total_income: int
    available: int
    reserved: int
    total_paid: int


class GrantOut(CamelOut):
    proposal_id: int
    community_id: int
    amount: int
    paid: int
    state: str


class PayoutOut(CamelOut):
    request_id: int
    proposal_id: int
    recipient: str
    amount: int
    requester: str
    status: str
    approvers: list[str]


class TrailEntryOut(CamelOut):
    """One step of a cent's trail: income -> fund -> grant -> payout -> recipient."""

    block: int
    tx_hash: str
    step: str
    proposal_id: int | None
    request_id: int | None
    amount: int
    party: str | None = Field(description="recipient, approver or recorder, as the step has it")
    reference: str | None = Field(description="document / invoice hash where the step has one")


class BalanceOut(CamelOut):
    account: str
    minutes: int


class CarriedOverOut(CamelOut):
    """A balance carried over from a replaced key to its replacement (BalanceCarriedOver)."""

    from_account: str
    to_account: str
    minutes: int
    block: int
    timestamp: int  # the block's, unix seconds
    tx_hash: str


class MemberHistoryOut(CamelOut):
    """A member's balance (from the contract) and time-bank history across key rotations."""

    account: str
    minutes: int
    keys: list[str]  # the account, then each key it replaced, newest first
    carried_over: list[CarriedOverOut]
    records: list[EventOut]  # ServiceRecorded / ServiceReversed of any of `keys`, chain order


class PendingServiceIn(Strict):
    """The provider's half: a record signed by its provider, waiting for the other side."""

    communityId: Annotated[int, Field(ge=1, lt=2**256)]
    record: ServiceRecordIn
    providerSig: Signature65


class PendingServiceOut(CamelOut):
    id: str = Field(description="the record id (its EIP-712 struct hash)")
    community_id: int
    record: ServiceRecordIn = Field(description="the record as its provider signed it")
    provider_sig: str
    created_at: float


class ConfirmServiceIn(Strict):
    recipientSig: Signature65


# --- audit ------------------------------------------------------------------------------------

AuditBlock = Annotated[int, Field(ge=0, lt=2**63)]


class AuditIn(Strict):
    """Which blocks to audit (default: from the deployment block to the head)."""

    model_config = ConfigDict(**STRICT, alias_generator=to_camel)

    from_block: AuditBlock | None = None
    to_block: AuditBlock | None = None
    all_proofs: bool = Field(
        default=False, description="prove every recomputed storage word, not a sample"
    )


class AuditProgressOut(CamelOut):
    phase: str = Field(description="compile, walk, views, proofs or done")
    block: int
    first: int
    last: int
    fraction: float
    ballots: int = Field(description="ballots judged so far")
    findings: int = Field(description="findings so far")


class AuditJobOut(CamelOut):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: float
    started_at: float | None
    finished_at: float | None
    progress: AuditProgressOut | None
    ok: bool | None = Field(description="true when the audit found nothing wrong")
    findings: int | None
    warnings: int | None
    error: str | None = Field(description="why the audit could not be carried out")


class SignerOut(CamelOut):
    """Who signed the report, by the report keys auditors registered in the Registry."""

    registered: bool = Field(
        description="the key is registered by an AUDITOR and was not revoked at or before the "
        "report's last audited block"
    )
    key_fingerprint: str | None = Field(description="sha256 of the raw Ed25519 public key")
    auditor: str | None = Field(description="the auditor who registered the key")
    community: int | None = Field(description="the community whose AUDITOR it is")
    registered_at_block: int | None
    revoked_at_block: int | None
    detail: str = Field(description="one line: the registered auditor, or why not")


class LatestReportOut(CamelOut):
    signature_valid: bool = Field(
        description="the Ed25519 signature matches the report as stored on the server; says "
        "nothing of who signed it (see `signer`)"
    )
    signature_detail: str = Field(
        description="whether the signature matches and which registered auditor signed it, or "
        "that an unregistered key did"
    )
    signed_by_registered_auditor: bool = Field(
        description="the signature matches and its key is a registered auditor's (`signer`)"
    )
    signer: SignerOut
    key_id: str | None
    generated_at: int
    ok: bool = Field(description="the report found nothing wrong")
    report: dict[str, Any]
    signature: dict[str, Any] | None
    signed_text: str | None = Field(
        description="exactly the text the signature covers (the report's canonical JSON: sorted "
        "keys, no whitespace, ASCII), for a client to check the signature without re-encoding "
        "the report (numbers such as 2.0 do not survive a JSON round trip in every language); "
        "null when the report is unsigned"
    )
    redacted: list[str] = Field(
        description="fields this server took out of the report before serving it (the node's "
        "URL beyond scheme, host and port; server file paths): empty for reports written by "
        "this version, whose signature covers exactly what is served"
    )


# --- joining the roll ---------------------------------------------------------------------------


class JoinRequestIn(Strict):
    """A resident's EIP-712 join request: JoinRequest(uint256 communityId,address resident,uint64
    issuedAt) under the domain ("CommonsJoin", "1", chainId, Registry address), signed by
    `resident`. The QR code the page shows carries exactly this object."""

    communityId: Annotated[int, Field(ge=1, lt=2**256)]
    resident: Address
    issuedAt: Annotated[int, Field(ge=0, lt=2**64, description="unix seconds")]
    signature: Signature65


class JoinOut(CamelOut):
    """A stored join request and where its resident stands: `pending` (not on the roll),
    `staged` (added, the roll not yet published) or `onRoll` (on the published roll)."""

    code: str = Field(description="the short code, XXXX-XXXX: the digest's first 40 bits")
    digest: str = Field(description="the EIP-712 digest the resident signed")
    community_id: int
    resident: str
    issued_at: int
    signature: str
    received_at: float
    status: Literal["pending", "staged", "onRoll"]


# --- members' display names ---------------------------------------------------------------------


class NameIn(Strict):
    """A display name: 1-40 characters once in NFC and trimmed, nothing that hides or reorders
    text (422 `InvalidName` otherwise)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class MemberOut(CamelOut):
    """A member as other members see them: always show `tag` beside the name, since two members
    may choose the same one."""

    address: str
    name: str
    tag: str = Field(description="the address's last four hex digits, lower case")
    updated_at: float


# --- a community's administration -------------------------------------------------------------


class CommunitySettingsOut(CamelOut):
    """What a community's admin decides, as it stands: who holds each role (from the index), the
    admin role's pending transfer, the fund's currency and payout approvals, the time bank's
    balance limits (from the chain)."""

    id: int
    admin: str
    pending_admin: str | None = Field(description="offered the admin role, until they accept")
    roles: dict[str, list[str]]
    committee_size: int
    currency: str = Field(description='the fund\'s ISO 4217 code; "" until the admin sets it')
    approval_threshold: int = Field(description="committee approvals each payout needs; 0: unset")
    floor_minutes: int = Field(description="the lowest time-bank balance (0 or less)")
    ceiling_minutes: int = Field(description="the highest time-bank balance (0 or more)")


# --- initiatives and ratings ------------------------------------------------------------------


class CoSignatureIn(Strict):
    """A resident's EIP-712 co-signature: CoSignature(uint256 initiativeId,address signer) under
    the domain ("CommonsInitiatives", "1", chainId, initiatives address)."""

    initiativeId: Annotated[int, Field(ge=1, lt=2**256)]
    signer: Address
    signature: Signature65


class InitiativeIn(Strict):
    """An initiative's full text and the author's signed ERC-2771 request calling
    `Initiatives.submit(communityId, keccak256(text), budgetAmount, budgetCurrency)`."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    request: ForwardRequestIn


class InitiativeOut(CamelOut):
    id: int
    community_id: int
    author: str
    text_hash: str
    text: str | None = Field(description="the full text if this service holds it")
    text_matches: bool | None = Field(description="keccak256(text) == textHash; null without text")
    budget_amount: int
    budget_currency: str
    roll_version: int
    roll_size: int
    needed: int = Field(description="co-signatures that make it a council proposal")
    co_signatures: int
    opens_at: int
    closes_at: int = Field(description="co-signatures are taken until then (unix seconds)")
    state: Literal["open", "promoted", "expired"]
    proposal_id: int | None = Field(description="the council proposal it became, once promoted")
    cosigned: bool | None = Field(
        default=None, description="whether `signer` (asked for) has a co-signature counted"
    )


class RatingIn(Strict):
    """A resident's EIP-712 rating: Rating(uint256 proposalId,address rater,uint8 score,bytes32
    commentHash) under the domain ("CommonsRatings", "1", chainId, ratings address)."""

    proposalId: Annotated[int, Field(ge=1, lt=2**256)]
    rater: Address
    score: Annotated[int, Field(ge=0, le=255)]
    commentHash: Hex32
    signature: Signature65


class RatingsOut(CamelOut):
    proposal_id: int = Field(description="a council proposal's id, or a budget project's grant id")
    id: str = Field(
        description="`proposalId` as a decimal string (a budget project's is past 2^53)"
    )
    opened: bool = Field(description="whether the first ratings were relayed (the window runs)")
    closes_at: int | None = Field(description="ratings are taken until then (unix seconds)")
    roll_version: int | None
    count: int
    average: float | None = Field(
        description="the mean score, 1 to 5, as the chain has it (to two decimals, rounded down)"
    )
    histogram: list[int] = Field(description="how many rated 1, 2, 3, 4 and 5")
    rated: bool | None = Field(
        default=None, description="whether `rater` (asked for) has a rating counted"
    )


# --- participatory budgeting --------------------------------------------------------------------


class BudgetBallotIn(Strict):
    """A resident's EIP-712 budget ballot: BudgetBallot(uint256 roundId,address voter,uint256
    projects) under the domain ("CommonsBudget", "1", chainId, ParticipatoryBudget address);
    `projects` is the bitmap of chosen projects (bit i = project i in submission order)."""

    roundId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    projects: Uint256
    signature: Signature65


class BudgetProjectIn(Strict):
    """A project's full description and the resident's signed ERC-2771 request calling
    `ParticipatoryBudget.submitProject(roundId, keccak256(text), cost)`."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    request: ForwardRequestIn


class BudgetProjectOut(CamelOut):
    index: int
    proposer: str
    text_hash: str
    text: str | None = Field(description="its description if this service holds it")
    cost: int
    votes: int
    eligible: bool
    selected: bool
    completed: bool
    ratings_id: str = Field(
        description="the id its grant and its ratings go by (IParticipatoryBudget.grantIdOf: "
        "2^255 | roundId << 8 | index), as a decimal string since it is past 2^53; residents "
        "rate the completed project by signing it as the Rating's proposalId"
    )


class BudgetStepOut(CamelOut):
    """One project's turn in the selection's walk; `remaining` is the budget left after it."""

    index: int
    votes: int
    cost: int
    remaining: int
    selected: bool


class BudgetRoundOut(CamelOut):
    round_id: int
    community_id: int
    text_hash: str
    budget: int
    currency: str
    rule: str  # Knapsack / KApproval
    min_projects: int
    max_projects: int
    submission_opens_at: int
    submission_closes_at: int
    voting_opens_at: int
    voting_closes_at: int
    roll_version: int
    roll_size: int
    state: str  # Pending / Submission / Review / Voting / Closed / Selected
    ballot_count: int
    selection_budget: int  # min(budget, the fund's available) when the selection ran; else 0
    spent: int
    projects: list[BudgetProjectOut]
    walk: list[BudgetStepOut] = Field(
        description="the selection step by step, in walk order (empty until it runs)"
    )


class BudgetRoundsOut(CamelOut):
    community_id: int
    round_ids: list[int] = Field(description="the community's rounds, newest first")


class CompletedProjectOut(CamelOut):
    round_id: int
    project: BudgetProjectOut


class CompletedProjectsOut(CamelOut):
    community_id: int
    projects: list[CompletedProjectOut] = Field(
        description="the community's completed budget projects, newest round first"
    )
