"""Acknowledged but never landed: the relay's signed promises checked against the chain.

Every message the relay accepts comes back with an acknowledgement signed by the relayer key:
the EIP-712 digest the sender signed, when it was accepted, and the block by which it will be
on the chain (ledger/signing/acks.py). Given those acknowledgements (a resident's own receipts,
or the export `GET /v1/relay/acks`), the audit names each message that is not on the chain by
the block promised (`relay.censored`) or landed after it (`relay.late`): a dropped ballot
becomes evidence, signed by the one who dropped it.

Where a message lands is read from our contracts' events, by the digest the sender signed:
- a ballot: Council's `BallotCast` carries its EIP-712 digest (the event's second data word);
- a service record: TimeBank's `ServiceRecorded` carries the record's fields, not its digest;
  the digest is recomputed from them (record id under the time bank's domain);
- a co-signature or a rating: Initiatives' `CoSigned` and Ratings' `Rated` carry its digest;
- a council proxy ballot: the Council's `ProxyBallotCast` carries its digest;
- a proxy's appointment or revocation: Mandates' `MandateAppointed` / `MandateRevoked` carry
  its fields; the digest is recomputed from them under the Mandates domain;
- an election proxy ballot: Elections' `ElectionProxyBallotCast` carries its fields; the digest
  is recomputed from them under the ElectionProxies domain;
- an officer's box totals: the poll office's `BoxTotalsSigned(boxId, officer, totalsHash)`
  names the totals by hash, which needs the acknowledged payload (whose digest must be the one
  acknowledged) to recompute;
- a forward request: the forwarder's `ExecutedForwardRequest(signer, nonce, success)` names
  no digest, so the request is matched by its signer and nonce, which needs its payload (and
  the payload must hash to the digest acknowledged).
A ballot, record, co-signature, rating, proxy ballot or box totals the contract skipped by its
own rule (`BallotSkipped`, `ServiceSkipped`, `CoSignatureSkipped`, `RatingSkipped`,
`ProxyBallotSkipped`, `MandateSkipped`, `ElectionProxyBallotSkipped` by ElectionProxies or
Elections, `BoxTotalsRefused`) was sent: the promise was kept.

The events are read with `eth_getLogs` from the node audited, like the rest of the audit reads
the chain; they are not re-derived from the receipts the walk checks against each block's
receiptsRoot, so a node that hides or invents an event can move a verdict here (audit against
a node you trust, or two).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ledger.audit.abi import Event, event_of, log_values
from ledger.audit.ethcodec import hex_bytes, hex_int, to_hex
from ledger.audit.model import AuditWarning, Finding
from ledger.audit.timebank import id_of
from ledger.errors import AuditInfraError, InvalidMessage
from ledger.hashing import checksum_address, keccak
from ledger.protocol.ballots_cast import cast_entries
from ledger.protocol.generated import Domains, Events, MandateScope, Types
from ledger.signing.acks import Acknowledgement, verify_ack
from ledger.signing.box_totals import BoxTotals, box_totals_digest, totals_hash
from ledger.signing.budget_ballots import BudgetBallot, BudgetDomain, budget_ballot_digest
from ledger.signing.digests import (
    ballot_digest,
    cosignature_digest,
    domain_separator,
    rating_digest,
    typed_digest,
)
from ledger.signing.eip712 import SignatureError
from ledger.signing.election_ballots import (
    ElectionBallot,
    ElectionDomain,
    election_ballot_digest,
)
from ledger.signing.election_proxy_ballots import (
    ElectionProxyBallot,
    election_proxy_ballot_digest,
)
from ledger.signing.forwards import ForwardRequest, forwarder_domain
from ledger.signing.in_person_ballots import InPersonBallot, PollOfficeDomain, in_person_digest
from ledger.signing.mandates import (
    Mandate,
    ProxyBallot,
    Revocation,
    mandate_digest,
    proxy_ballot_digest,
    revocation_digest,
)
from ledger.transport import RpcClient

BALLOT_CAST: Final = event_of(Events.BallotCast)
BALLOT_SKIPPED: Final = event_of(Events.BallotSkipped)
SERVICE_RECORDED: Final = event_of(Events.ServiceRecorded)
SERVICE_SKIPPED: Final = event_of(Events.ServiceSkipped)
EXECUTED: Final = event_of(Events.ExecutedForwardRequest)
LOG_SPAN: Final = 10_000  # blocks per eth_getLogs: within what public nodes answer
ELECTION_BALLOTS_CAST: Final = event_of(Events.ElectionBallotsCast)
COSIGNED: Final = event_of(Events.CoSigned)
COSIGNATURE_SKIPPED: Final = event_of(Events.CoSignatureSkipped)
RATED: Final = event_of(Events.Rated)
RATING_SKIPPED: Final = event_of(Events.RatingSkipped)
BUDGET_BALLOT_CAST: Final = event_of(Events.BudgetBallotCast)
KINDS: Final = (
    "ballot",
    "service",
    "forward",
    "election-ballot",
    "cosignature",
    "rating",
    "budget-ballot",
    "in-person-ballot",
    "secret-ballot",
    "election-proxy-ballot",
    "box-totals",
    "mandate",
    "proxy-ballot",
)
APPOINTED: Final = event_of(Events.MandateAppointed)
REVOKED: Final = event_of(Events.MandateRevoked)
MANDATE_SKIPPED: Final = event_of(Events.MandateSkipped)
COUNCIL_PROXY_CAST: Final = event_of(Events.ProxyBallotCast)
COUNCIL_PROXY_SKIPPED: Final = event_of(Events.ProxyBallotSkipped)
PROXY_CAST: Final = event_of(Events.ElectionProxyBallotCast)
PROXY_SKIPPED: Final = event_of(Events.ElectionProxyBallotSkipped)
TOTALS_SIGNED: Final = event_of(Events.BoxTotalsSigned)
TOTALS_REFUSED: Final = event_of(Events.BoxTotalsRefused)
IN_PERSON_VOUCHED: Final = event_of(Events.InPersonBallotVouched)
SECRET_BALLOT_CAST: Final = event_of(Events.SecretBallotCast)


@dataclass(frozen=True)
class AckEntry:
    """One acknowledgement as saved: the signed ack, and what it was for when known."""

    ack: Acknowledgement
    receipt_id: str | None = None
    kind: str | None = None
    payload: dict[str, Any] | None = None


@dataclass
class AckCheck:
    """The outcome: findings (censored, late), warnings (acks that prove nothing, messages that
    cannot be checked) and, for the report, each acknowledgement's verdict."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[AuditWarning] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            counts[entry["verdict"]] = counts.get(entry["verdict"], 0) + 1
        relayers = sorted({e["relayer"] for e in self.entries if e["verdict"] != "refused"})
        return {"acknowledgements": len(self.entries), "relayers": relayers, **counts}


# ------------------------------------------------------------------------------------ input


def _entry(item: Any, where: str) -> AckEntry:
    if not isinstance(item, dict):
        raise AuditInfraError(f"{where}: not a JSON object")
    # An export item or a receipt holds the ack under "ack"; a bare ack is the object itself.
    nested = item.get("ack")
    raw: dict[str, Any] = nested if isinstance(nested, dict) else item
    try:
        ack = Acknowledgement.from_json(raw)
    except SignatureError as exc:
        raise AuditInfraError(f"{where}: {exc}") from exc
    kind = item.get("kind")
    payload = item.get("payload")
    return AckEntry(
        ack,
        str(item["id"]) if item.get("id") else None,
        str(kind) if kind in KINDS else None,
        payload if isinstance(payload, dict) else None,
    )


def _items(text: str) -> Iterator[Any]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from json.loads(stripped)
        return
    if stripped.startswith("{") and "\n{" not in stripped.strip():
        whole = json.loads(stripped)
        # A saved page of `GET /v1/relay/acks` as it came.
        yield from whole["items"] if isinstance(whole.get("items"), list) else [whole]
        return
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def load_acks(path: Path) -> list[AckEntry]:
    """Acknowledgements from a JSON array, JSON lines, or a saved export page: each an `ack`
    object (with the receipt's id, kind and payload where known) or a bare acknowledgement."""
    try:
        text = path.read_text()
        items = list(_items(text))
    except (OSError, ValueError) as exc:
        raise AuditInfraError(f"cannot read the acknowledgements {path}: {exc}") from exc
    return [_entry(item, f"{path.name} item {n + 1}") for n, item in enumerate(items)]


def entries_from_report(report: dict[str, Any]) -> list[AckEntry] | None:
    """The acknowledgements an audit report was given (its `relay_acks` section), to check
    them again with the same blocks; None when the audit was given none."""
    section = report.get("relay_acks")
    if not isinstance(section, dict):
        return None
    return [
        AckEntry(
            Acknowledgement.from_json(e),
            e.get("receipt"),
            e.get("kind") if e.get("kind") in KINDS else None,
            e.get("payload") if isinstance(e.get("payload"), dict) else None,
        )
        for e in section.get("entries", [])
    ]


# ------------------------------------------------------------------------------ the chain


@dataclass
class Landed:
    """Where each kind of message landed: digest (ballots, records) or (signer, nonce)
    (forward requests) -> the first block."""

    digests: dict[bytes, tuple[int, str]] = field(default_factory=dict)
    forwards: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    # Sent, but refused by the contract's own rule (the voter already voted, the nonce was
    # used): the relay kept its promise. A skipped record names its id; a skipped ballot only
    # (proposal, voter), so it is matched through the acknowledged payload.
    skipped: dict[bytes, tuple[int, str]] = field(default_factory=dict)
    skipped_ballots: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)
    council_domain: bytes = b""
    # Likewise (initiative or proposal, signer) for skipped co-signatures and ratings, by kind.
    skipped_signed: dict[tuple[str, int, str], tuple[int, str]] = field(default_factory=dict)
    initiatives_domain: bytes = b""
    ratings_domain: bytes = b""
    # Box totals signed: (box, officer, totals hash); matched through the payload.
    box_totals: dict[tuple[int, str, bytes], tuple[int, str]] = field(default_factory=dict)
    election_proxies_domain: bytes = b""
    mandates_domain: bytes = b""
    poll_office: PollOfficeDomain | None = None


def _logs(
    rpc: RpcClient, address: bytes, event: Event, first: int, last: int
) -> Iterator[dict[str, Any]]:
    for start in range(first, last + 1, LOG_SPAN):
        stop = min(start + LOG_SPAN - 1, last)
        query = {
            "address": to_hex(address),
            "topics": [to_hex(event.topic)],
            "fromBlock": hex(start),
            "toBlock": hex(stop),
        }
        for log in rpc.call("eth_getLogs", [query]) or []:
            if not log.get("removed"):
                yield log


def _first(seen: dict[Any, tuple[int, str]], key: Any, log: dict[str, Any]) -> None:
    block = hex_int(log["blockNumber"])
    if key not in seen or block < seen[key][0]:
        seen[key] = (block, str(log["transactionHash"]))


def _service_digest(separator: bytes, log: dict[str, Any]) -> bytes | None:
    record = log_values(SERVICE_RECORDED, log)
    if record is None:
        return None
    return typed_digest(separator, id_of(int(record["communityId"]), record))


def landed(
    rpc: RpcClient, chain_id: int, contracts: dict[str, bytes], first: int, last: int
) -> Landed:
    """Every ballot, service record and forward request on the chain in [first, last]."""
    out = Landed()
    for log in _logs(rpc, contracts["council"], BALLOT_CAST, first, last):
        if (cast := log_values(BALLOT_CAST, log)) is not None:
            _first(out.digests, bytes(cast["digest"]), log)
    separator = domain_separator(*Domains.TimeBank, chain_id, contracts["timebank"])
    for log in _logs(rpc, contracts["timebank"], SERVICE_RECORDED, first, last):
        if (service := _service_digest(separator, log)) is not None:
            _first(out.digests, service, log)
    for log in _logs(rpc, contracts["timebank"], SERVICE_SKIPPED, first, last):
        if (skip := log_values(SERVICE_SKIPPED, log)) is not None:
            _first(out.skipped, typed_digest(separator, bytes(skip["recordId"])), log)
    for log in _logs(rpc, contracts["council"], BALLOT_SKIPPED, first, last):
        if (skip := log_values(BALLOT_SKIPPED, log)) is not None:
            ballot = (int(skip["proposalId"]), checksum_address(skip["voter"]))
            _first(out.skipped_ballots, ballot, log)
    election_domain = ElectionDomain(chain_id, checksum_address(contracts["elections"]))
    # An in-person ballot's choices are in the ElectionBallotsCast its vouching led to.
    choices_in: dict[tuple[str, int, str], int] = {}
    for log in _logs(rpc, contracts["elections"], ELECTION_BALLOTS_CAST, first, last):
        if (batch := log_values(ELECTION_BALLOTS_CAST, log)) is None:
            continue
        for entry in cast_entries(batch["cast"]):
            voter = checksum_address(entry.voter)
            signed = ElectionBallot(int(batch["electionId"]), voter, entry.choices)
            _first(out.digests, election_ballot_digest(signed, election_domain), log)
            choices_in[(str(log["transactionHash"]), signed.election_id, voter)] = signed.choices
    budget_domain = BudgetDomain(chain_id, checksum_address(contracts["budget"]))
    for log in _logs(rpc, contracts["budget"], BUDGET_BALLOT_CAST, first, last):
        if (cast := log_values(BUDGET_BALLOT_CAST, log)) is not None:
            voter = checksum_address(cast["voter"])
            budget_ballot = BudgetBallot(int(cast["roundId"]), voter, int(cast["projects"]))
            _first(out.digests, budget_ballot_digest(budget_ballot, budget_domain), log)
    office_domain = PollOfficeDomain(chain_id, checksum_address(contracts["poll_office"]))
    for log in _logs(rpc, contracts["poll_office"], IN_PERSON_VOUCHED, first, last):
        if (vouched := log_values(IN_PERSON_VOUCHED, log)) is not None:
            eid, voter = int(vouched["electionId"]), checksum_address(vouched["voter"])
            choices = choices_in.get((str(log["transactionHash"]), eid, voter))
            if choices is not None:
                officer = checksum_address(vouched["officer"])
                marked = InPersonBallot(eid, voter, choices, officer)
                _first(out.digests, in_person_digest(marked, office_domain), log)
    _secret_ballots(rpc, out, chain_id, contracts["secret"], first, last)
    _election_proxy_ballots(rpc, out, chain_id, contracts, first, last)
    _mandates(rpc, out, chain_id, contracts, first, last)
    _box_totals(rpc, out, contracts["poll_office"], first, last)
    out.poll_office = office_domain
    out.council_domain = domain_separator(*Domains.Council, chain_id, contracts["council"])
    _signed_once(rpc, out, contracts, first, last)
    out.initiatives_domain = domain_separator(
        *Domains.Initiatives, chain_id, contracts["initiatives"]
    )
    out.ratings_domain = domain_separator(*Domains.Ratings, chain_id, contracts["ratings"])
    for log in _logs(rpc, contracts["forwarder"], EXECUTED, first, last):
        if (done := log_values(EXECUTED, log)) is not None:
            _first(out.forwards, (checksum_address(done["signer"]), int(done["nonce"])), log)
    return out


def _secret_ballots(
    rpc: RpcClient, out: Landed, chain_id: int, secret: bytes, first: int, last: int
) -> None:
    """Secret ballots by the digest their voter signed: the cast event carries the ballot's
    hash, all the struct needs besides the vote and the voter."""
    separator = domain_separator(*Domains.SecretBallot, chain_id, secret)
    for log in _logs(rpc, secret, SECRET_BALLOT_CAST, first, last):
        if (cast := log_values(SECRET_BALLOT_CAST, log)) is not None:
            struct = keccak(
                Types.SecretBallot.typehash
                + int(cast["voteId"]).to_bytes(32, "big")
                + bytes(12)
                + bytes.fromhex(checksum_address(cast["voter"])[2:])
                + bytes(cast["ballotHash"])
            )
            _first(out.digests, typed_digest(separator, struct), log)


def _election_proxy_ballots(
    rpc: RpcClient, out: Landed, chain_id: int, contracts: dict[str, bytes], first: int, last: int
) -> None:
    """Counted proxy ballots by the digest their proxy signed (recomputed from the cast event);
    skipped ones, by either contract, by (kind, election, voter)."""
    out.election_proxies_domain = domain_separator(
        *Domains.ElectionProxies, chain_id, contracts["election_proxies"]
    )
    for log in _logs(rpc, contracts["elections"], PROXY_CAST, first, last):
        if (cast := log_values(PROXY_CAST, log)) is not None:
            ballot = ElectionProxyBallot(
                int(cast["electionId"]),
                checksum_address(cast["voter"]),
                checksum_address(cast["proxy"]),
                int(cast["choices"]),
            )
            digest = election_proxy_ballot_digest(out.election_proxies_domain, ballot)
            _first(out.digests, digest, log)
    for key in ("election_proxies", "elections"):
        for log in _logs(rpc, contracts[key], PROXY_SKIPPED, first, last):
            if (skip := log_values(PROXY_SKIPPED, log)) is not None:
                voter = checksum_address(skip["voter"])
                signed = ("election-proxy-ballot", int(skip["electionId"]), voter)
                _first(out.skipped_signed, signed, log)


def _mandates(
    rpc: RpcClient, out: Landed, chain_id: int, contracts: dict[str, bytes], first: int, last: int
) -> None:
    """Appointments and revocations by the digest their resident signed (recomputed from the
    events), council proxy ballots by the digest their event carries; skipped ones by (kind,
    community or proposal, resident or voter)."""
    mandates = contracts["mandates"]
    out.mandates_domain = domain_separator(*Domains.Mandates, chain_id, mandates)
    for log in _logs(rpc, mandates, APPOINTED, first, last):
        if (made := log_values(APPOINTED, log)) is not None:
            mandate = Mandate(
                int(made["communityId"]),
                checksum_address(made["resident"]),
                checksum_address(made["proxy"]),
                MandateScope(int(made["scope"])),
                int(made["voteId"]),
                int(made["nonce"]),
            )
            _first(out.digests, mandate_digest(out.mandates_domain, mandate), log)
    for log in _logs(rpc, mandates, REVOKED, first, last):
        if (ended := log_values(REVOKED, log)) is not None:
            resident = checksum_address(ended["resident"])
            revocation = Revocation(int(ended["communityId"]), resident, int(ended["nonce"]))
            _first(out.digests, revocation_digest(out.mandates_domain, revocation), log)
    for log in _logs(rpc, mandates, MANDATE_SKIPPED, first, last):
        if (skip := log_values(MANDATE_SKIPPED, log)) is not None:
            signed = ("mandate", int(skip["communityId"]), checksum_address(skip["resident"]))
            _first(out.skipped_signed, signed, log)
    for log in _logs(rpc, contracts["council"], COUNCIL_PROXY_CAST, first, last):
        if (cast := log_values(COUNCIL_PROXY_CAST, log)) is not None:
            _first(out.digests, bytes(cast["digest"]), log)
    for log in _logs(rpc, contracts["council"], COUNCIL_PROXY_SKIPPED, first, last):
        if (skip := log_values(COUNCIL_PROXY_SKIPPED, log)) is not None:
            signed = ("proxy-ballot", int(skip["proposalId"]), checksum_address(skip["voter"]))
            _first(out.skipped_signed, signed, log)


def _box_totals(rpc: RpcClient, out: Landed, office: bytes, first: int, last: int) -> None:
    """Box totals signed, by (box, officer, totals hash); refused, by (kind, box, officer)."""
    for log in _logs(rpc, office, TOTALS_SIGNED, first, last):
        if (signed := log_values(TOTALS_SIGNED, log)) is not None:
            key = (int(signed["boxId"]), checksum_address(signed["officer"]))
            _first(out.box_totals, (*key, bytes(signed["totalsHash"])), log)
    for log in _logs(rpc, office, TOTALS_REFUSED, first, last):
        if (refused := log_values(TOTALS_REFUSED, log)) is not None:
            box, officer = int(refused["boxId"]), checksum_address(refused["officer"])
            _first(out.skipped_signed, ("box-totals", box, officer), log)


def _signed_once(
    rpc: RpcClient, out: Landed, contracts: dict[str, bytes], first: int, last: int
) -> None:
    """Co-signatures and ratings: counted ones by the digest their event carries, skipped ones
    by (kind, initiative or proposal, signer)."""
    for kind, key, cast, skipped, box_name, signer_name in (
        ("cosignature", "initiatives", COSIGNED, COSIGNATURE_SKIPPED, "initiativeId", "signer"),
        ("rating", "ratings", RATED, RATING_SKIPPED, "proposalId", "rater"),
    ):
        for log in _logs(rpc, contracts[key], cast, first, last):
            if (counted := log_values(cast, log)) is not None:
                _first(out.digests, bytes(counted["digest"]), log)
        for log in _logs(rpc, contracts[key], skipped, first, last):
            if (skip := log_values(skipped, log)) is not None:
                signed = (kind, int(skip[box_name]), checksum_address(skip[signer_name]))
                _first(out.skipped_signed, signed, log)


# ------------------------------------------------------------------------------- judging


def _when(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def _forward_key(
    entry: AckEntry, chain_id: int, forwarder: str
) -> tuple[tuple[str, int] | None, str | None]:
    """(signer, nonce) of an acknowledged forward request, or why it cannot be known."""
    if entry.payload is None:
        return None, "a forward request is matched by its signer and nonce: export its payload"
    try:
        request = ForwardRequest.from_payload(entry.payload)
    except InvalidMessage as exc:
        return None, f"its payload is not a forward request ({exc})"
    signed = request.digest(forwarder_domain(chain_id, forwarder))
    if signed != entry.ack.message:
        return None, "its payload is not the request acknowledged (another digest)"
    return (request.sender, request.nonce), None


def _skipped_ballot(entry: AckEntry, chain: Landed) -> tuple[int, str] | None:
    """Where the contract skipped the acknowledged ballot, when its payload is the ballot
    acknowledged (its digest recomputed) and a BallotSkipped names its proposal and voter."""
    p = entry.payload
    if entry.kind != "ballot" or p is None:
        return None
    try:
        proposal, voter, option = int(p["proposalId"]), checksum_address(p["voter"]), p["option"]
        signed = ballot_digest(chain.council_domain, proposal, hex_bytes(voter), int(option))
    except (KeyError, TypeError, ValueError):
        return None
    if signed != entry.ack.message:
        return None
    return chain.skipped_ballots.get((proposal, voter))


def _skipped_signed(entry: AckEntry, chain: Landed) -> tuple[int, str] | None:
    """Where the contract skipped the acknowledged co-signature, rating, proxy ballot or box
    totals, when its payload is the one acknowledged (its digest recomputed) and a skip event
    names its box and signer."""
    p = entry.payload
    if p is None:
        return None
    try:
        if entry.kind == "cosignature":
            box, signer = int(p["initiativeId"]), checksum_address(p["signer"])
            signed = cosignature_digest(chain.initiatives_domain, box, hex_bytes(signer))
        elif entry.kind == "rating":
            box, signer = int(p["proposalId"]), checksum_address(p["rater"])
            comment = hex_bytes(p["commentHash"])
            signed = rating_digest(
                chain.ratings_domain, box, hex_bytes(signer), int(p["score"]), comment
            )
        elif entry.kind == "election-proxy-ballot":
            ballot = _proxy_ballot_of(p)
            box, signer = ballot.election_id, ballot.voter
            signed = election_proxy_ballot_digest(chain.election_proxies_domain, ballot)
        elif entry.kind == "box-totals":
            totals = _totals_of(p)
            box, signer = totals.box_id, totals.officer
            signed = _box_totals_digest(chain, totals)
        elif entry.kind == "mandate":
            box, signer = int(p["communityId"]), checksum_address(p["resident"])
            signed = _mandate_digest(chain, p)
        elif entry.kind == "proxy-ballot":
            council_ballot = ProxyBallot(
                int(p["proposalId"]),
                checksum_address(p["voter"]),
                checksum_address(p["proxy"]),
                int(p["option"]),
            )
            box, signer = council_ballot.proposal_id, council_ballot.voter
            signed = proxy_ballot_digest(chain.council_domain, council_ballot)
        else:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    if signed != entry.ack.message:
        return None
    return chain.skipped_signed.get((entry.kind, box, signer))


def _mandate_digest(chain: Landed, p: dict[str, Any]) -> bytes:
    """The digest of an acknowledged appointment or revocation, from its payload."""
    community, resident, nonce = int(p["communityId"]), checksum_address(p["resident"]), p["nonce"]
    if p["act"] == "revoke":
        return revocation_digest(chain.mandates_domain, Revocation(community, resident, nonce))
    proxy, scope = checksum_address(p["proxy"]), MandateScope(int(p["scope"]))
    mandate = Mandate(community, resident, proxy, scope, int(p["voteId"]), int(nonce))
    return mandate_digest(chain.mandates_domain, mandate)


def _proxy_ballot_of(p: dict[str, Any]) -> ElectionProxyBallot:
    return ElectionProxyBallot(
        int(p["electionId"]),
        checksum_address(p["voter"]),
        checksum_address(p["proxy"]),
        int(p["choices"]),
    )


def _totals_of(p: dict[str, Any]) -> BoxTotals:
    return BoxTotals(
        int(p["boxId"]),
        tuple(int(c) for c in p["choices"]),
        tuple(int(n) for n in p["counts"]),
        hex_bytes(p["certificateHash"]),
        checksum_address(p["officer"]),
    )


def _box_totals_digest(chain: Landed, totals: BoxTotals) -> bytes:
    if chain.poll_office is None:
        raise ValueError("no poll office read")
    return box_totals_digest(totals, chain.poll_office)


def _signed_totals(entry: AckEntry, chain: Landed) -> tuple[int, str] | None:
    """Where the acknowledged box totals were signed on the chain, when its payload is the one
    acknowledged: BoxTotalsSigned names the box, the officer and the totals' hash."""
    if entry.kind != "box-totals" or entry.payload is None:
        return None
    try:
        totals = _totals_of(entry.payload)
    except (KeyError, TypeError, ValueError):
        return None
    if _box_totals_digest(chain, totals) != entry.ack.message:
        return None
    return chain.box_totals.get((totals.box_id, totals.officer, totals_hash(totals)))


def _refusal(entry: AckEntry, chain_id: int, forwarder: str, relayer: str | None) -> str | None:
    try:
        verify_ack(entry.ack, chain_id, forwarder)
    except SignatureError as exc:
        return str(exc)
    if relayer is not None and entry.ack.relayer != relayer:
        return f"signed by {entry.ack.relayer}, not the relayer {relayer}"
    return None


def check_acks(
    rpc: RpcClient,
    chain_id: int,
    contracts: dict[str, bytes],
    first: int,
    head: int,
    entries: Iterable[AckEntry],
    relayer: str | None = None,
) -> AckCheck:
    """Judge each acknowledgement against the chain from `first` to `head` (the audited block).

    An acknowledgement not signed (for this chain and deployment) by the relayer it names, or
    by another relayer than `relayer` when one is named, proves nothing: it is refused with a
    warning, never a finding. A message not on the chain by its `land_by` is `relay.censored`
    once `head` is past `land_by` (pending until then); one that landed after it `relay.late`.
    """
    forwarder = checksum_address(contracts["forwarder"])
    try:
        trusted = checksum_address(relayer) if relayer is not None else None
    except ValueError as exc:
        raise AuditInfraError(f"the relayer {relayer!r} is not an address") from exc
    unique: dict[tuple[bytes, bytes], AckEntry] = {}
    for entry in entries:
        unique.setdefault((entry.ack.message, entry.ack.signature), entry)
    result = AckCheck()
    chain = landed(rpc, chain_id, contracts, first, head) if unique else Landed()
    for entry in unique.values():
        _judge(result, entry, chain, chain_id, forwarder, trusted, head)
    relayers = result.summary()["relayers"]
    if trusted is None and len(relayers) > 1:
        result.warnings.append(
            AuditWarning(
                "relay.ack",
                None,
                None,
                f"acknowledgements signed by {len(relayers)} relayers ({', '.join(relayers)}): "
                "name the one the community runs with --relayer",
            )
        )
    return result


def _judge(
    result: AckCheck,
    entry: AckEntry,
    chain: Landed,
    chain_id: int,
    forwarder: str,
    relayer: str | None,
    head: int,
) -> None:
    ack = entry.ack
    message = to_hex(ack.message)
    what = entry.kind or "message"
    # The acknowledgement whole (signature and payload too): a report's reader re-checks it.
    record: dict[str, Any] = {
        "message": message,
        "receipt": entry.receipt_id,
        "kind": entry.kind,
        "relayer": ack.relayer,
        "accepted_at": ack.accepted_at,
        "land_by": ack.land_by,
        "signature": to_hex(ack.signature),
        "payload": entry.payload,
    }
    result.entries.append(record)
    refused = _refusal(entry, chain_id, forwarder, relayer)
    if refused is not None:
        record.update(verdict="refused", reason=refused)
        result.warnings.append(
            AuditWarning(
                "relay.ack", None, None, f"acknowledgement of {message} refused: {refused}"
            )
        )
        return
    where: tuple[int, str] | None = chain.digests.get(ack.message) or _signed_totals(entry, chain)
    how = "counted"
    if where is None:
        where = (
            chain.skipped.get(ack.message)
            or _skipped_ballot(entry, chain)
            or _skipped_signed(entry, chain)
        )
        how = "skipped"
    if where is None and entry.kind == "forward":
        key, unknown = _forward_key(entry, chain_id, forwarder)
        if key is None:
            record.update(verdict="unchecked", reason=unknown)
            result.warnings.append(
                AuditWarning("relay.ack", None, None, f"forward request {message}: {unknown}")
            )
            return
        where, how = chain.forwards.get(key), "executed"
    if where is None and entry.kind is None:
        # Not a ballot or service record on the chain; a forward request needs its payload.
        reason = "not among the ballots and service records; its kind and payload are unknown"
        record.update(verdict="unchecked", reason=reason)
        result.warnings.append(AuditWarning("relay.ack", None, None, f"{message}: {reason}"))
        return
    promise = (
        f"{what} {message} acknowledged by {ack.relayer} at {_when(ack.accepted_at)}"
        f"{f' (receipt {entry.receipt_id})' if entry.receipt_id else ''}, "
        f"promised by block {ack.land_by}"
    )
    if where is not None:
        block, tx = where
        record.update(block=block, tx=tx, outcome=how)
        if block <= ack.land_by:
            record["verdict"] = "landed"
            return
        record["verdict"] = "late"
        result.findings.append(
            Finding(
                "relay.late",
                block,
                tx,
                f"on the chain by block {ack.land_by}",
                f"in block {block}",
                f"{promise}, landed ({how}) in block {block}",
            )
        )
        return
    if head <= ack.land_by:
        record["verdict"] = "pending"
        return
    record["verdict"] = "censored"
    result.findings.append(
        Finding(
            "relay.censored",
            ack.land_by,
            None,
            f"on the chain by block {ack.land_by}",
            f"not on the chain by head {head}",
            f"{promise}, not on the chain by head {head}",
        )
    )
