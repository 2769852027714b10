"""The messages a stress run offers: signed ballots and time-bank service records, signed ahead
of time (coincurve on the EIP-712 digest, two processes) so the load generator only sends.

Every message has a key that names what it must become on-chain, exactly once:
("ballot", proposal, voter) -> one BallotCast; ("service", provider, nonce) -> one ServiceRecorded.

Ballots go proposal by proposal (one batch group active at a time, as in a real vote where
residents answer one call). Service records run round a ring of residents, each serving the next:
every provider's nonces stay below the contract's 128-nonce window and every balance far from the
time bank's limits, so no record can be refused for anything the faults did.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import coincurve
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.hashing import address_bytes
from ledger.signing.digests import ballot_digest, typed_digest
from ledger.signing.eip712 import domain_separator
from ledger.signing.services import (
    ServiceRecord,
    category_code,
    record_id,
    service_body,
    timebank_domain,
)

SERVICE_MINUTES = 5
MAX_NONCES_PER_PROVIDER = 60  # well inside the contract's 128-nonce window
CATEGORY = category_code("STRESS")
NOTE = keccak(text="stress run")
SIGN_CHUNK = 2000

Key = tuple[str, int | str, int | str]


def address_of(secret: bytes) -> str:
    public = coincurve.PublicKey.from_secret(secret).format(compressed=False)[1:]
    return to_checksum_address(keccak(public)[12:])


def _worker_init() -> None:
    # The run turns SIGTERM into KeyboardInterrupt; a pool's workers just end when terminated.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sign(secret: bytes, digest: bytes) -> str:
    sig = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
    return "0x" + (sig[:64] + bytes([sig[64] + 27])).hex()


@dataclass(frozen=True)
class Message:
    key: Key
    path: str
    body: dict[str, Any]

    def line(self) -> str:
        return self.path + "\t" + json.dumps(self.body, separators=(",", ":"))


@dataclass
class Plan:
    """Who takes part: voters (one ballot per proposal each) and a ring of service providers."""

    ballots: int
    services: int
    proposals: int
    service_every: int
    voter_keys: list[bytes] = field(default_factory=list)
    provider_keys: list[bytes] = field(default_factory=list)

    @classmethod
    def make(cls, messages: int, *, service_every: int = 10, proposals: int = 4) -> Plan:
        services = messages // service_every if service_every else 0
        ballots = messages - services
        voters = -(-ballots // proposals)
        providers = max(3, -(-services // MAX_NONCES_PER_PROVIDER))
        return cls(
            ballots,
            services,
            proposals,
            service_every,
            [os.urandom(32) for _ in range(voters)],
            [os.urandom(32) for _ in range(providers)],
        )

    @property
    def total(self) -> int:
        return self.ballots + self.services

    def roll(self) -> list[str]:
        with Pool(2, initializer=_worker_init) as pool:
            return pool.map(address_of, self.voter_keys + self.provider_keys, chunksize=2000)


def _ballot_chunk(job: tuple[bytes, Sequence[Any]]) -> list[Message]:
    separator, items = job
    out = []
    for proposal, secret, option in items:
        voter = address_of(secret)
        digest = ballot_digest(separator, proposal, address_bytes(voter), option)
        body = {"proposalId": proposal, "voter": voter, "option": option,
                "signature": _sign(secret, digest)}  # fmt: skip
        out.append(Message(("ballot", proposal, voter), "/v1/ballots", body))
    return out


def _service_chunk(job: tuple[bytes, int, Sequence[Any]]) -> list[Message]:
    separator, community, items = job
    out = []
    for provider_key, recipient_key, nonce in items:
        record = ServiceRecord(
            provider=address_of(provider_key),
            recipient=address_of(recipient_key),
            minutes_served=SERVICE_MINUTES,
            category=CATEGORY,
            note_hash=NOTE,
            nonce=nonce,
        )
        digest = typed_digest(separator, record_id(community, record))
        body = service_body(
            community, record, _sign(provider_key, digest), _sign(recipient_key, digest)
        )
        out.append(Message(("service", record.provider, nonce), "/v1/services", body))
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sign(
    plan: Plan,
    *,
    proposal_ids: Sequence[int],
    ballot_separator: bytes,
    community: int,
    chain_id: int,
    timebank: str,
) -> list[Message]:
    """Every message of the plan, signed, in the order the load generator offers them."""
    if len(proposal_ids) != plan.proposals:
        raise ValueError(f"plan has {plan.proposals} proposals, got {len(proposal_ids)} ids")
    ballot_items = [
        (proposal_ids[i // len(plan.voter_keys)], plan.voter_keys[i % len(plan.voter_keys)], i % 3)
        for i in range(plan.ballots)
    ]
    ring = plan.provider_keys
    service_items = [
        (ring[i % len(ring)], ring[(i + 1) % len(ring)], i // len(ring))
        for i in range(plan.services)
    ]
    service_separator = domain_separator(timebank_domain(chain_id, timebank))
    with Pool(2, initializer=_worker_init) as pool:
        ballots = [
            m
            for part in pool.map(
                _ballot_chunk, [(ballot_separator, c) for c in _chunks(ballot_items, SIGN_CHUNK)]
            )
            for m in part
        ]
        services = [
            m
            for part in pool.map(
                _service_chunk,
                [(service_separator, community, c) for c in _chunks(service_items, SIGN_CHUNK)],
            )
            for m in part
        ]
    # Interleave: one service record after every `service_every - 1` ballots.
    out: list[Message] = []
    b = s = 0
    for i in range(plan.total):
        take_service = plan.service_every and (i + 1) % plan.service_every == 0
        if (take_service and s < len(services)) or b >= len(ballots):
            out.append(services[s])
            s += 1
        else:
            out.append(ballots[b])
            b += 1
    return out


def write(messages: Sequence[Message], path: Path) -> None:
    path.write_text("\n".join(m.line() for m in messages) + "\n")
