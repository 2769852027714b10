"""The state the auditor rebuilds from the chain, and its checkpoint file.

Everything here is derived from blocks, transactions and logs alone. The checkpoint lets a long
audit resume: it is JSON (never pickle: a tampered checkpoint may mislead a resumed audit, which
the report notes, but it cannot run code), restored only through the classes listed here, and
bound to the chain (the hash of its last block), the deployment and this code's version.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import ujson

from ledger.audit.model import AuditWarning, Finding
from ledger.files import atomic_write
from ledger.protocol.generated import ROLE_NAMES, GrantState, PayoutStatus

STATE_VERSION: Final = 6  # 2: auditor keys; 3: admin acts; 4: key rotations; 5: proxies;
# 6: budgeting rounds and secret votes
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(slots=True)
class Member:
    """A resident's stable roll index and membership intervals [join, leave) (leave 0: open)."""

    index: int
    intervals: list[list[int]] = field(default_factory=list)

    def active(self) -> bool:
        return bool(self.intervals) and self.intervals[-1][1] == 0

    def member_at(self, version: int) -> bool:
        for join, leave in reversed(self.intervals):
            if join <= version:
                return leave == 0 or version < leave
        return False


@dataclass
class Community:
    id: int
    admin: bytes
    pending_admin: bytes = bytes(20)  # named by the admin, not yet accepted (zero: none)
    roll_version: int = 0
    roll_size: int = 0
    pending_size: int = 0
    next_index: int = 0
    roles: dict[str, set[bytes]] = field(
        default_factory=lambda: {r: set() for r in ROLE_NAMES.values()}
    )
    members: dict[bytes, Member] = field(default_factory=dict)
    published_at: dict[int, int] = field(default_factory=dict)
    # replaced key -> the key that replaced it (IRegistry.replaceResident)
    replacements: dict[bytes, bytes] = field(default_factory=dict)

    def has(self, role: str, account: bytes | None) -> bool:
        return account is not None and account in self.roles[role]

    def resident_now(self, account: bytes) -> bool:
        member = self.members.get(account)
        return self.roll_version != 0 and member is not None and member.member_at(self.roll_version)


@dataclass
class Proposal:
    id: int
    community: int
    proposer: bytes
    text_hash: bytes
    kind: int
    option_count: int
    opens_at: int
    closes_at: int
    quorum_bps: int
    threshold_bps: int
    budget_amount: int
    budget_currency: bytes
    roll_version: int
    roll_size: int
    opened_block: int
    opened_tx: str
    tally: list[int] = field(default_factory=list)  # the recount
    event_tally: list[int] = field(default_factory=list)  # what BallotCast events counted
    voted: set[bytes] = field(default_factory=set)
    relayed: int = 0
    direct: int = 0
    skipped: int = 0
    outcome: int = 0  # as finalized on-chain (ICouncil.Outcome)
    winning_option: int = 255
    final_tally: list[int] | None = None
    finalized_block: int | None = None
    finalized_tx: str | None = None
    execution: int = 0
    milestones: int = 0
    # proxy ballots: voter -> (proxy, option) while not overridden; ballots each proxy cast here
    proxy_ballots: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)
    proxy_used: dict[bytes, int] = field(default_factory=dict)
    overridden: int = 0
    secret_vote: int = 0  # the secret vote linked to a secret proposal (SecretVoteLinked)


@dataclass
class Election:
    """An election rebuilt from IElections' events: its parameters, the ballots counted (in the
    order the contract stored them) and the count's events as emitted."""

    id: int
    community: int
    kind: int
    candidate_count: int
    seats: int
    max_choices: int
    opens_at: int
    closes_at: int
    roll_version: int
    ballots: list[int] = field(default_factory=list)  # choices, as signed
    voted: set[bytes] = field(default_factory=set)
    # (voter, choices) the poll office vouched for in transaction `vouched_tx`, not yet taken
    vouched: list[tuple[bytes, int]] = field(default_factory=list)
    vouched_tx: str = ""
    in_person: int = 0  # ballots counted in person
    # Proxy ballots (ledger.audit.election_proxies): each live one's (proxy, position in
    # `ballots`, choices); a voter whose own ballot is replacing theirs, with its position; the
    # proxy ballots each proxy cast; those ElectionProxies handed in, in order, in `handed_tx`.
    proxied: dict[bytes, tuple[bytes, int, int]] = field(default_factory=dict)
    replacing: dict[bytes, int] = field(default_factory=dict)
    proxy_used: dict[bytes, int] = field(default_factory=dict)
    handed: list[tuple[bytes, bytes, int]] = field(default_factory=list)
    handed_tx: str = ""
    skipped: int = 0
    rounds: list[list[int]] = field(default_factory=list)  # seat, round, tally.., exhausted, out
    transfers: list[list[int]] = field(default_factory=list)  # seat, round, from, gains.., lost
    winners: list[int] | None = None
    # Paper boxes (ledger.audit.paper): residents assigned to a box, who vote in no other channel;
    # the (choices, count) entries two officers' totals handed in in transaction `paper_tx`, not
    # yet seen in PaperBallotsCast; and the ballots counted from boxes.
    paper_voters: set[bytes] = field(default_factory=set)
    paper_pending: list[tuple[int, int]] = field(default_factory=list)
    paper_tx: str = ""
    paper: int = 0


@dataclass
class PaperBox:
    """A paper box rebuilt from its declaration and its officers' signed totals."""

    id: int
    election: int
    label: bytes
    assigned: int
    # totals hash (hex) -> the first officer who signed those totals
    signers: dict[str, bytes] = field(default_factory=dict)
    ballots: int | None = None  # once two officers' totals counted


@dataclass
class BudgetRound:
    """A participatory budgeting round rebuilt from IParticipatoryBudget's events: its rules, its
    projects' costs (by index), the ballots counted, and the selection's steps as emitted."""

    id: int
    community: int
    budget: int
    currency: bytes
    rule: int
    min_projects: int
    max_projects: int
    submission_opens_at: int
    submission_closes_at: int
    voting_opens_at: int
    voting_closes_at: int
    roll_version: int
    costs: list[int] = field(default_factory=list)
    ineligible: int = 0  # bitmap
    ballots: list[int] = field(default_factory=list)  # bitmaps, in the order counted
    voted: set[bytes] = field(default_factory=set)
    skipped: int = 0
    walk: list[list[int]] = field(default_factory=list)  # index, votes, cost, remaining, selected
    selected: int | None = None  # bitmap; None until BudgetRoundSelected
    selection_budget: int = 0
    spent: int = 0
    granted: dict[int, int] = field(default_factory=dict)  # project index -> grant amount
    milestones: dict[int, int] = field(default_factory=dict)  # project index -> recorded
    completed: set[int] = field(default_factory=set)  # project indexes


@dataclass
class SecretVote:
    """A secret vote rebuilt from ISecretBallot's events and its calls' calldata (points as
    [x, y] words): the trustees' key generation, the counted ballots (struct hash -> [voter,
    proofs hold (0/1), ciphertext words]), the batches' struct hashes, the aggregate of the
    counted, non-voided ballots, the partials and the tally."""

    id: int
    community: int
    options: int
    question: bytes
    trustees: list[bytes]
    threshold: int
    # keysBy, dealsBy, complaintsBy, answersBy, opensAt, closesAt, challengesUntil
    schedule: list[int]
    roll_version: int
    aggregate: list[int]
    keys: dict[int, list[int]] = field(default_factory=dict)
    commitments: dict[int, list[int]] = field(default_factory=dict)
    complaints: list[list[int]] = field(default_factory=list)  # [dealer, accuser]
    answers: list[list[int]] = field(default_factory=list)  # [dealer, accuser, valid]
    disqualified: dict[int, int] = field(default_factory=dict)  # trustee -> reason
    key_state: str = "pending"  # "fixed", "failed"
    qualified: list[int] | None = None
    key: list[int] = field(default_factory=list)
    verification_keys: dict[int, list[int]] = field(default_factory=dict)
    voted: set[bytes] = field(default_factory=set)
    ballots: dict[bytes, list[Any]] = field(default_factory=dict)
    batch: list[bytes] = field(default_factory=list)  # the batch being cast
    batches: list[list[bytes]] = field(default_factory=list)
    voided: set[bytes] = field(default_factory=set)
    counted: int = 0
    skipped: int = 0
    partials: dict[int, list[int]] = field(default_factory=dict)  # trustee -> D_j words
    tally: list[int] | None = None


@dataclass
class Initiative:
    """An initiative as submitted (IInitiatives.InitiativeSubmitted) and recounted since."""

    id: int
    community: int
    author: bytes
    text_hash: bytes
    budget_amount: int
    budget_currency: bytes
    roll_version: int
    roll_size: int
    needed: int
    opens_at: int
    closes_at: int
    rules: list[int]  # IInitiatives.InitiativeRules in field order
    opened_tx: str
    signed: set[bytes] = field(default_factory=set)  # the recount: who co-signed
    counted: int = 0  # what CoSigned events counted
    skipped: int = 0
    proposal: int = 0  # the council proposal it became (InitiativePromoted)
    promoted_tx: str | None = None
    promoted_block: int | None = None


@dataclass
class RatingRound:
    """A completed proposal's ratings (IRatings.RatingsOpened) and their recount."""

    proposal: int
    community: int
    roll_version: int
    roll_size: int
    closes_at: int
    raters: set[bytes] = field(default_factory=set)  # the recount: who rated
    score_sum: int = 0  # the recount
    event_count: int = 0  # what Rated events counted
    event_sum: int = 0


@dataclass
class Fund:
    community: int
    currency: bytes = b""
    threshold: int = 0
    total_income: int = 0
    available: int = 0
    reserved: int = 0
    total_paid: int = 0


@dataclass
class Grant:
    proposal: int
    community: int
    amount: int
    currency: bytes
    paid: int = 0
    state: int = GrantState.Open
    opened_block: int = 0
    opened_tx: str = ""


@dataclass
class Payout:
    id: int
    proposal: int
    community: int
    recipient: bytes
    amount: int
    requester: bytes
    status: int = PayoutStatus.Pending
    approvers: list[bytes] = field(default_factory=list)
    purpose: bytes = b""
    invoice: bytes = b""


@dataclass
class Service:
    record_id: bytes
    recipient: bytes
    minutes: int
    reversed: bool = False


@dataclass
class TimeBankBook:
    community: int
    floor: int = -600
    ceiling: int = 6000
    balances: dict[bytes, int] = field(default_factory=dict)
    # provider -> (nonce base, nonces recorded at or above the base)
    nonces: dict[bytes, list[Any]] = field(default_factory=dict)
    services: dict[bytes, Service] = field(default_factory=dict)  # by record id
    # member -> the roll version at which a landed record last found them resident (TimeBank
    # keeps it in the account word so that a batch need not ask the Registry again)
    stamps: dict[bytes, int] = field(default_factory=dict)
    by_nonce: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    # replaced key -> the key its balance was carried over to (ITimeBank.carryOver)
    carried: dict[bytes, bytes] = field(default_factory=dict)
    recorded: int = 0
    reversals: int = 0

    def nonce_used(self, provider: bytes, nonce: int) -> bool:
        base, window = self.nonces.get(provider, (0, set()))
        return nonce < base or nonce in window

    def nonce_base(self, provider: bytes) -> int:
        return int(self.nonces.get(provider, (0, set()))[0])

    def use_nonce(self, provider: bytes, nonce: int) -> None:
        base, window = self.nonces.setdefault(provider, [0, set()])
        window.add(nonce)
        while base in window:
            window.discard(base)
            base += 1
        self.nonces[provider][0] = base

    def stamp(self, version: int, *accounts: bytes) -> None:
        for account in accounts:
            if account != bytes(20):
                self.stamps[account] = version

    def window_word(self, provider: bytes) -> tuple[int, int]:
        """(nonceBase, 128-bit window) as TimeBank stores them."""
        base, window = self.nonces.get(provider, (0, set()))
        bits = 0
        for n in window:
            if 0 <= n - base < 128:
                bits |= 1 << (n - base)
        return int(base), bits


@dataclass(slots=True)
class AuditorKey:
    """A report key's registration: by `auditor`, an AUDITOR of `community`, in block
    `registered_at`; `revoked_at` is the revoking block (0 while in force)."""

    community: int
    auditor: bytes
    registered_at: int
    revoked_at: int = 0


@dataclass
class AuditState:
    """Everything rebuilt so far; `next_block` is the first block not yet walked."""

    next_block: int
    last_hash: bytes | None = None
    last_timestamp: int = 0
    communities: dict[int, Community] = field(default_factory=dict)
    proposals: dict[int, Proposal] = field(default_factory=dict)
    elections: dict[int, Election] = field(default_factory=dict)
    paper_boxes: dict[int, PaperBox] = field(default_factory=dict)
    budget_rounds: dict[int, BudgetRound] = field(default_factory=dict)
    secret_votes: dict[int, SecretVote] = field(default_factory=dict)
    funds: dict[int, Fund] = field(default_factory=dict)
    grants: dict[int, Grant] = field(default_factory=dict)
    payouts: dict[int, Payout] = field(default_factory=dict)
    income_count: int = 0
    timebanks: dict[int, TimeBankBook] = field(default_factory=dict)
    initiatives: dict[int, Initiative] = field(default_factory=dict)
    initiative_rules: dict[int, list[int]] = field(default_factory=dict)  # by community
    rating_rounds: dict[int, RatingRound] = field(default_factory=dict)  # by proposal
    # (community, resident) -> (proxy, scope, vote id): the live mandates (IMandates)
    mandates: dict[tuple[int, bytes], tuple[bytes, int, int]] = field(default_factory=dict)
    mandate_nonces: dict[bytes, int] = field(default_factory=dict)
    proxy_limits: dict[int, int] = field(default_factory=dict)  # set by the admin
    # TimeBank batch id -> the root rebuilt from the ids the recording call recorded
    timebank_batches: dict[int, bytes] = field(default_factory=dict)
    forward_nonces: dict[bytes, int] = field(default_factory=dict)
    # sha256 of the raw Ed25519 public key -> its registration (IRegistry.registerAuditorKey)
    auditor_keys: dict[bytes, AuditorKey] = field(default_factory=dict)
    trail: list[dict[str, Any]] = field(default_factory=list)
    admin_acts: list[dict[str, Any]] = field(default_factory=list)  # dispatch.admin_act rows
    rotations: list[dict[str, Any]] = field(default_factory=list)  # rotation.replaced rows
    findings: list[Finding] = field(default_factory=list)
    warnings: list[AuditWarning] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def bump(self, name: str, by: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + by

    def fund(self, community: int) -> Fund:
        return self.funds.setdefault(community, Fund(community))

    def timebank(self, community: int) -> TimeBankBook:
        return self.timebanks.setdefault(community, TimeBankBook(community))


# -------------------------------------------------------------------------------- checkpoint

_CLASSES: Final = {
    cls.__name__: cls
    for cls in (
        Member,
        AuditorKey,
        Community,
        Proposal,
        Election,
        PaperBox,
        BudgetRound,
        SecretVote,
        Initiative,
        RatingRound,
        Fund,
        Grant,
        Payout,
        Service,
        TimeBankBook,
        AuditState,
        Finding,
        AuditWarning,
    )
}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return {"$b": value.hex()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [_encode(v) for v in value]}
    if isinstance(value, set):
        width = _same_width(value)
        if width is not None:  # e.g. who voted: one hex string, not a dict per address
            return {"$S": width, "h": b"".join(value).hex()}
        return {"$s": [_encode(v) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        width = _same_width(value)
        if width is not None:
            return {
                "$D": width,
                "k": b"".join(value).hex(),
                "v": [_encode(v) for v in value.values()],
            }
        return {"$d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, Member):
        return {"$M": [value.index, value.intervals]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _CLASSES:
        return {
            "$c": type(value).__name__,
            "f": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    raise TypeError(f"cannot checkpoint a {type(value).__name__}")


def _same_width(items: Any) -> int | None:
    """The common length if every item is bytes of one length (and there is at least one)."""
    width = None
    for item in items:
        if not isinstance(item, bytes) or (width is not None and len(item) != width):
            return None
        width = len(item)
    return width or None


def _chunks(hex_text: str, width: int) -> list[bytes]:
    raw = bytes.fromhex(hex_text)
    return [raw[i : i + width] for i in range(0, len(raw), width)]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$b" in value:
        return bytes.fromhex(value["$b"])
    if "$t" in value:
        return tuple(_decode(v) for v in value["$t"])
    if "$S" in value:
        return set(_chunks(value["h"], value["$S"]))
    if "$D" in value:
        keys = _chunks(value["k"], value["$D"])
        return {k: _decode(v) for k, v in zip(keys, value["v"], strict=True)}
    if "$M" in value:
        return Member(int(value["$M"][0]), [list(i) for i in value["$M"][1]])
    if "$s" in value:
        return {_hashable(_decode(v)) for v in value["$s"]}
    if "$d" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["$d"]}
    if "$c" in value:
        cls = _CLASSES.get(value["$c"])
        if cls is None:
            raise ValueError(f"unknown class {value['$c']!r} in checkpoint")
        return cls(**{k: _decode(v) for k, v in value["f"].items()})
    return {k: _decode(v) for k, v in value.items()}


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    binding: str  # what the state is valid for (chain, deployment, code version)

    def save(self, state: AuditState) -> None:
        document = {"version": STATE_VERSION, "binding": self.binding, "state": _encode(state)}
        raw = gzip.compress(ujson.dumps(document).encode(), compresslevel=1)
        atomic_write(self.path, raw)

    def load(self) -> AuditState | None:
        try:
            document = ujson.loads(gzip.decompress(self.path.read_bytes()))
        except (OSError, ValueError, EOFError):
            return None
        if document.get("version") != STATE_VERSION or document.get("binding") != self.binding:
            return None
        try:
            state = _decode(document["state"])
        except (KeyError, TypeError, ValueError):
            return None
        return state if isinstance(state, AuditState) else None

    def digest(self) -> str | None:
        try:
            return "sha256:" + hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None
