"""The relay's message kinds for council ballots and time-bank service records.

Both verify before acknowledgement, cheaply: what they cache can't change under them (a
proposal's schedule and options, the roll at a published version, who already voted and which
nonces are recorded only grow), and a "not on the roll" from a cache is confirmed on-chain before
anything is refused. Two answers are allowed to lag the chain by design, each toward
acknowledging: which roll version is published (read at most every couple of seconds) and which
nonces another path than this relay recorded after a provider was first seen. The contract is the
final judge either way: a message that slips through is skipped there, with its reason, and its
receipt says so.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.errors import InvalidMessage, LedgerError
from ledger.hashing import checksum_address, keccak
from ledger.node import rpc
from ledger.relay import COUNTED, REJECTED, BatchCall, Message, Outcome
from ledger.signing.ballots import BallotDomain, make_ballot
from ledger.signing.eip712 import domain_separator, recover_address_bytes, to_compact
from ledger.signing.secp256k1 import SECP256K1_N
from ledger.signing.services import (
    CompactSignature,
    ServiceRecord,
    SignedRecord,
    record_id,
    service_body,
    timebank_domain,
)
from ledger.tx import ErrorDecoder

# ICouncil.SkipReason, in declaration order.
SKIP_REASONS = (
    "ProposalNotOpen",
    "InvalidOption",
    "BadSignature",
    "MalleableSignature",
    "NotOnRoll",
    "AlreadyVoted",
)
COORDINATOR = Web3.keccak(text="COORDINATOR")
BALLOT_TYPEHASH = keccak(b"Ballot(uint256 proposalId,address voter,uint8 option)")
BALLOT_CAST = keccak(b"BallotCast(uint256,address,uint8,bytes32)")
BALLOT_SKIPPED = keccak(b"BallotSkipped(uint256,address,uint8)")
# Measured cost is ~14k per relayed ballot, ~21k on a fresh ballot box (bench/gas_council.py);
# the bound leaves room for a cold registry and a first tally write.
BALLOT_GAS_BOUND = 40_000
BATCH_BASE_GAS = 150_000
# A service record in a batch: measured up to ~27,000 (200 members, the first batch after a roll
# publication, bench/gas_fund.py); the bound adds a cold Registry look-up for each side.
SERVICE_GAS_BOUND = 45_000
ROLL_UPDATED = keccak(b"RollUpdated(uint256,uint32,address[],address[])")
CAST_BALLOTS = keccak(b"castBallots(uint256,(address,uint8,bytes32,bytes32)[])")[:4]
CHAIN_TIME_REFRESH_S = 1.0
# TimeBank's replay window: which of the nonces above a provider's nonceBase are recorded.
NONCE_WINDOW = 128
# TimeBank's nonces stay below 2^32 - 1 (its nonceBase is 32 bits wide).
NONCE_LIMIT = (1 << 32) - 1


def _raw_logs(w3: Web3, address: str, topics: list[bytes]) -> list[dict[str, Any]]:
    """Raw eth_getLogs from genesis, in chain order: web3's log formatting costs more than the
    rest of loading a large roll or a proposal's voters."""
    logs: list[dict[str, Any]] = rpc(
        w3,
        "eth_getLogs",
        [{"address": address, "fromBlock": "0x0", "toBlock": "latest",
          "topics": ["0x" + t.hex() for t in topics]}],
    )  # fmt: skip
    return sorted(logs, key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)))


class RollCache:
    """Published rolls, per (community, version), replayed from the Registry's RollUpdated
    events; a published version never changes, so an entry never goes stale. Addresses are
    lowercase hex: read from raw logs without a checksum's keccak each (a roll can hold tens of
    thousands). The `keep` most recently loaded rolls are kept (each publication of each
    community is a new entry, and a large roll takes megabytes)."""

    def __init__(self, w3: Web3, registry: Contract, keep: int = 32) -> None:
        self.w3 = w3
        self.registry = registry
        self.keep = keep
        self._rolls: dict[tuple[int, int], frozenset[str]] = {}
        self._load_lock = threading.Lock()

    def cached(self, community_id: int, version: int) -> frozenset[str] | None:
        """The roll if it is loaded already (no chain request), else None."""
        return self._rolls.get((community_id, version))

    def members(self, community_id: int, version: int) -> frozenset[str]:
        key = (community_id, version)
        roll = self._rolls.get(key)
        if roll is None:
            with self._load_lock:  # one load, however many requests arrive meanwhile
                roll = self._rolls.get(key)
                if roll is None:
                    roll = self._load(*key)
                    # A new dict, swapped in whole: readers never see one being resized.
                    kept = {**self._rolls, key: roll}
                    while len(kept) > self.keep:
                        del kept[next(iter(kept))]
                    self._rolls = kept
        return roll

    def _load(self, community_id: int, version: int) -> frozenset[str]:
        members: set[str] = set()
        for entry in _raw_logs(
            self.w3, self.registry.address, [ROLL_UPDATED, community_id.to_bytes(32, "big")]
        ):
            if int(entry["topics"][2], 16) > version:
                continue
            added, removed = abi_decode(
                ["address[]", "address[]"], bytes.fromhex(entry["data"][2:])
            )
            members.difference_update(a.lower() for a in removed)
            members.update(a.lower() for a in added)
        return frozenset(members)


# The node is away (refused, reset, timed out): what was read before stands in for it.
NODE_AWAY = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError)


class ChainClock:
    """The chain's notion of now (anvil's clock can be moved): read once, then again every
    second by a thread of its own while the clock is in use, and carried forward by the wall
    clock in between — also while the node is away or slow, so that checks answered from memory
    never wait on it (an acknowledgement that waited for a busy node's block took up to ~120
    ms, bench/api_load.py)."""

    # The refreshing thread stops after this long without a question (and starts again).
    IDLE_S = 60.0

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        # (the chain's time, the monotonic time it was read at); swapped in whole.
        self._reading: tuple[float, float] | None = None
        self.head = 0  # the newest block number read
        self._asked_at = 0.0
        self._ticking = False
        self._lock = threading.Lock()

    def fresh(self) -> bool:
        """Whether `now()` answers without waiting for the chain."""
        return self._reading is not None

    def now(self) -> float:
        self._asked_at = time.monotonic()
        reading = self._reading
        if reading is None or not self._ticking:
            with self._lock:
                if self._reading is None:
                    self._read()  # the first reading is waited for (fails if the node is away)
                elif not self._ticking:
                    # Idle a while: the chain's clock may have been moved since; read it again
                    # now (the node away: carried forward as before).
                    with contextlib.suppress(*NODE_AWAY):
                        self._read()
                if not self._ticking:
                    self._ticking = True
                    threading.Thread(target=self._tick, name="chain-clock", daemon=True).start()
            reading = self._reading
            assert reading is not None
        base, base_at = reading
        return max(base + time.monotonic() - base_at, time.time())

    def confirmed(self) -> float:
        """`now()` from a reading made just now (the node away: as `now()`)."""
        with self._lock, contextlib.suppress(*NODE_AWAY):
            self._read()
        return self.now()

    def _tick(self) -> None:
        try:
            while time.monotonic() - self._asked_at < self.IDLE_S:
                time.sleep(CHAIN_TIME_REFRESH_S)
                # The node away or slow: the clock carries on meanwhile.
                with contextlib.suppress(Exception):
                    self._read()
        finally:
            self._ticking = False

    def _read(self) -> None:
        block = self.w3.eth.get_block("latest")
        self.head = int(block["number"])
        self._reading = (float(block["timestamp"]), time.monotonic())


@dataclass(frozen=True)
class _Schedule:
    community_id: int
    opens_at: int
    closes_at: int
    option_count: int
    roll_version: int


def _bytes(value: Any, size: int | None = None) -> bytes:
    raw = bytes(HexBytes(value))
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw


class BallotRelay:
    """Signed council ballots, batched per proposal into `castBallots`."""

    name = "ballot"
    # anvil re-hashes its whole state trie for every block (~45% of its CPU under load, and more
    # as the roll grows), and each batch is a block: 250 ballots a batch (about 3.4M gas) cost
    # the node ~40% less per ballot than 100 did at 1,000 ballots/s (bench/api_load.py).
    max_batch = 250
    base_gas = BATCH_BASE_GAS

    def __init__(
        self, w3: Web3, council: Contract, registry: Contract, rolls: RollCache | None = None
    ) -> None:
        self.w3 = w3
        self.council = council
        self.registry = registry
        self.domain = BallotDomain(w3.eth.chain_id, checksum_address(council.address))
        self._separator = domain_separator(self.domain.as_dict())
        self.clock = ChainClock(w3)
        self._schedules: dict[int, _Schedule] = {}
        self.rolls = rolls or RollCache(w3, registry)
        # Lowercase hex, as in RollCache (a proposal's voters can number tens of thousands).
        self._voted: dict[int, dict[str, str]] = {}
        self._lock = threading.Lock()

    # --- verification ---------------------------------------------------------------------------

    def parse(self, payload: dict[str, Any]) -> Message:
        try:
            ballot = make_ballot(
                int(payload["proposalId"]), str(payload["voter"]), int(payload["option"])
            )
            signature = _bytes(payload["signature"], 65)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedBallot", f"bad ballot: {exc}") from exc
        if int.from_bytes(signature[32:64], "big") > SECP256K1_N // 2:
            raise InvalidMessage("MalleableSignature", "s is in the upper half of the curve order")
        try:
            signer = recover_address_bytes(
                self.digest(ballot.proposal_id, ballot.voter, ballot.option), signature
            )
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc
        if signer != bytes.fromhex(ballot.voter[2:]):
            raise InvalidMessage(
                "BadSignature",
                f"signature is by {checksum_address(signer)}, not the voter {ballot.voter}",
            )
        payload = {
            "proposalId": ballot.proposal_id,
            "voter": ballot.voter,
            "option": ballot.option,
            "signature": "0x" + signature.hex(),
        }
        return Message(self.name, str(ballot.proposal_id), payload, ballot.voter)

    def check(self, message: Message) -> None:
        proposal_id, voter, option = (message.payload[k] for k in ("proposalId", "voter", "option"))
        schedule = self._schedule(proposal_id)
        now = self.clock.now()
        if now < schedule.opens_at:
            # Not open yet by a reading up to a second old: the chain's clock may have moved
            # since (anvil's can be): asked again before refusing, as any "no" from memory is.
            now = self.clock.confirmed()
        if not schedule.opens_at <= now < schedule.closes_at:
            raise InvalidMessage(
                "ProposalNotOpen",
                f"proposal {proposal_id} takes ballots from {schedule.opens_at} "
                f"until {schedule.closes_at}",
            )
        if option >= schedule.option_count:
            raise InvalidMessage("InvalidOption", f"option {option} of {schedule.option_count}")
        if not self._eligible(schedule, voter):
            raise InvalidMessage(
                "VoterNotOnRoll",
                f"{voter} was not on the roll (version {schedule.roll_version}) "
                f"when proposal {proposal_id} opened",
            )
        with self._lock:
            voted = self._voters(proposal_id)
            previous = voted.get(voter.lower())
            if previous is not None and previous != message.receipt_id:
                raise InvalidMessage(
                    "AlreadyVoted", f"{voter} already voted on proposal {proposal_id}"
                )
            voted[voter.lower()] = message.receipt_id

    def signed_digest(self, message: Message) -> bytes:
        p = message.payload
        return self.digest(p["proposalId"], p["voter"], p["option"])

    def release(self, message: Message) -> None:
        """The outbox did not store this ballot: its voter has not voted after all."""
        with self._lock:
            voted = self._voted.get(message.payload["proposalId"], {})
            if voted.get(message.payload["voter"].lower()) == message.receipt_id:
                del voted[message.payload["voter"].lower()]

    def check_is_local(self, message: Message) -> bool:
        proposal_id = message.payload["proposalId"]
        schedule = self._schedules.get(proposal_id)
        if schedule is None:
            return False
        roll = self.rolls.cached(schedule.community_id, schedule.roll_version)
        return (
            roll is not None
            and proposal_id in self._voted
            and message.payload["voter"].lower() in roll
            and self.clock.fresh()
        )

    def warm(self, recent: int = 50) -> list[int]:
        """Load what checking a ballot needs (schedule, roll, who voted) for the open proposals
        among the newest `recent`, so the first ballots after a start are checked inline like
        every later one instead of queueing behind a roll download. Returns their ids."""
        count: int = self.council.functions.proposalCount().call()
        now = self.clock.now()
        warmed = []
        for proposal_id in range(max(1, count - recent + 1), count + 1):
            schedule = self._schedule(proposal_id)
            if schedule.opens_at <= now < schedule.closes_at:
                self.rolls.members(schedule.community_id, schedule.roll_version)
                with self._lock:
                    self._voters(proposal_id)
                warmed.append(proposal_id)
        return warmed

    def digest(self, proposal_id: int, voter: str, option: int) -> bytes:
        """The ballot's EIP-712 digest, hashed directly (the relay's hot path): the struct's
        three static fields are each one 32-byte word, so they are laid out by hand."""
        struct = keccak(
            BALLOT_TYPEHASH
            + proposal_id.to_bytes(32, "big")
            + bytes(12)
            + bytes.fromhex(voter[2:])
            + option.to_bytes(32, "big")
        )
        return keccak(b"\x19\x01" + self._separator + struct)

    def _schedule(self, proposal_id: int) -> _Schedule:
        cached = self._schedules.get(proposal_id)
        if cached is not None:
            return cached
        try:
            view = self.council.functions.getProposal(proposal_id).call()
        except (ContractCustomError, ContractLogicError) as exc:
            raise InvalidMessage("UnknownProposal", f"no proposal {proposal_id}") from exc
        # ProposalView: communityId, proposer, textHash, kind, optionCount, opensAt, closesAt, ...
        # rollVersion is the 12th field.
        schedule = _Schedule(view[0], view[5], view[6], view[4], view[11])
        self._schedules[proposal_id] = schedule
        return schedule

    def _eligible(self, schedule: _Schedule, voter: str) -> bool:
        key = (schedule.community_id, schedule.roll_version)
        if voter.lower() in self.rolls.members(*key):
            return True
        # The cache only ever says no too often (e.g. an unusual log history): ask the chain.
        try:
            found: bool = self.registry.functions.wasResident(key[0], voter, key[1]).call()
        except (ContractCustomError, ContractLogicError):
            return False
        return found

    def _voters(self, proposal_id: int) -> dict[str, str]:
        voted = self._voted.get(proposal_id)
        if voted is None:
            logs = _raw_logs(
                self.w3, self.council.address, [BALLOT_CAST, proposal_id.to_bytes(32, "big")]
            )
            voted = {"0x" + e["topics"][2][-40:].lower(): "on-chain" for e in logs}
            self._voted[proposal_id] = voted
        return voted

    # --- batching --------------------------------------------------------------------------------

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return BALLOT_GAS_BOUND

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        ballots = [(p["voter"], p["option"], *to_compact(_bytes(p["signature"]))) for p in payloads]
        args = abi_encode(["uint256", "(address,uint8,bytes32,bytes32)[]"], [int(group), ballots])
        return BatchCall(
            self.council.address,
            CAST_BALLOTS + args,
            BATCH_BASE_GAS + BALLOT_GAS_BOUND * len(ballots),
        )

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        # Decoded by hand: web3's generic log processing costs more than the rest of the relay.
        results: dict[str, deque[Outcome]] = defaultdict(deque)
        council = self.council.address.lower()
        for log_ in sorted(receipt["logs"], key=lambda entry: entry["logIndex"]):
            if log_["address"].lower() != council or not log_["topics"]:
                continue
            topic = bytes(log_["topics"][0])
            data = bytes(log_["data"])
            if topic not in (BALLOT_CAST, BALLOT_SKIPPED):
                continue
            voter = checksum_address(bytes(log_["topics"][2])[12:])
            if topic == BALLOT_CAST:
                results[voter].append(Outcome(COUNTED, "0x" + data[32:64].hex()))
            else:
                results[voter].append(
                    Outcome(REJECTED, SKIP_REASONS[int.from_bytes(data[:32], "big")])
                )
        missing = Outcome(REJECTED, "no event for this ballot in its transaction")
        return [results[p["voter"]].popleft() if results[p["voter"]] else missing for p in payloads]


@dataclass
class _ProviderNonces:
    """A provider's nonces as the time bank recorded them when first asked (see
    TimeBank.nonceState), and those held since by records this relay acknowledged."""

    base: int
    window: int
    held: dict[int, str] = field(default_factory=dict)

    def recorded(self, nonce: int) -> bool:
        offset = nonce - self.base
        return offset < 0 or (offset < NONCE_WINDOW and bool(self.window >> offset & 1))


class ServiceRelay:
    """Time-bank service records signed by both sides, batched per community."""

    name = "service"
    # A record's gas grows with the distinct members its batch touches (each one's first touch
    # rewrites a cold storage word, 5,000 gas); in a big community, larger batches touch fewer
    # new members per record: at 200 members ~25,000 gas a record in batches of 100, under
    # 20,000 in batches of 250 (bench/gas_fund.py). Fewer blocks also spare anvil (see BallotRelay).
    max_batch = 250
    base_gas = BATCH_BASE_GAS

    # How long the published roll version of a community is trusted before it is read again. A
    # removal published within this window may still be acknowledged; the contract then skips
    # the record (NotResident), and its receipt says so.
    ROLL_VERSION_TTL_S = 2.0

    def __init__(
        self,
        w3: Web3,
        timebank: Contract,
        registry: Contract,
        decoder: ErrorDecoder | None = None,
        rolls: RollCache | None = None,
    ) -> None:
        self.w3 = w3
        self.timebank = timebank
        self.registry = registry
        self.domain = timebank_domain(w3.eth.chain_id, timebank.address)
        self.community_account = checksum_address(timebank.functions.COMMUNITY_ACCOUNT().call())
        self.decoder = decoder or ErrorDecoder([timebank.abi])
        self._separator = domain_separator(self.domain)
        self.rolls = rolls or RollCache(w3, registry)
        self._versions: dict[int, tuple[int, float]] = {}
        self._limit_cache: dict[int, tuple[tuple[int, int], float]] = {}
        self._nonces: dict[tuple[int, str], _ProviderNonces] = {}
        self._lock = threading.Lock()
        # Set where the outbox lives. Whether the relay holds no live message under a receipt:
        # it gave up on it (a record the contract skipped leaves its nonce free for the
        # provider's next record) or never stored it (the outbox refused the write).
        self.released: Callable[[str], bool] = lambda receipt_id: False
        # A provider's records acknowledged and not yet settled: after a restart, the nonces
        # they hold are known only from there.
        self.in_flight: Callable[[str], list[dict[str, Any]]] = lambda signer: []

    @staticmethod
    def read(payload: dict[str, Any]) -> tuple[int, SignedRecord, bytes, bytes]:
        try:
            r = payload["record"]
            record = ServiceRecord(
                provider=checksum_address(r["provider"]),
                recipient=checksum_address(r["recipient"]),
                minutes_served=int(r["minutesServed"]),
                category=_bytes(r["category"], 8),
                note_hash=_bytes(r["noteHash"], 32),
                nonce=int(r["nonce"]),
            )
            provider_sig = _bytes(payload["providerSig"], 65)
            recipient_sig = _bytes(payload["recipientSig"], 65)
            signed = SignedRecord(
                record,
                CompactSignature.from_rsv(provider_sig),
                CompactSignature.from_rsv(recipient_sig),
            )
            return int(payload["communityId"]), signed, provider_sig, recipient_sig
        except (KeyError, TypeError, ValueError, LedgerError) as exc:
            raise InvalidMessage("MalformedRecord", f"bad service record: {exc}") from exc

    def _digest(self, community: int, record: ServiceRecord) -> bytes:
        """What both sides sign, laid out by hand as for ballots (eth-account's typed-data
        path cost ~1 ms a signature)."""
        return keccak(b"\x19\x01" + self._separator + record_id(community, record))

    @staticmethod
    def _signer(digest: bytes, signature: bytes) -> str:
        try:
            return checksum_address(recover_address_bytes(digest, signature))
        except ValueError as exc:
            raise InvalidMessage("BadSignature", str(exc)) from exc

    def parse(self, payload: dict[str, Any]) -> Message:
        community, signed, provider_sig, recipient_sig = self.read(payload)
        record = signed.record
        digest = self._digest(community, record)
        provider = self._signer(digest, provider_sig)
        confirmer = self._signer(digest, recipient_sig)
        if record.minutes_served == 0:
            raise InvalidMessage("ZeroMinutes", "a service record counts at least one minute")
        if record.provider == record.recipient:
            raise InvalidMessage("SameParty", f"{record.provider} cannot serve themself")
        if record.nonce >= NONCE_LIMIT:
            raise InvalidMessage(
                "NonceTooFarAhead", f"nonce {record.nonce}: nonces stay below {NONCE_LIMIT}"
            )
        if provider != record.provider:
            raise InvalidMessage("WrongSigner", f"provider side signed by {provider}")
        if record.recipient != self.community_account and confirmer != record.recipient:
            raise InvalidMessage("WrongSigner", f"recipient side signed by {confirmer}")
        normalized = service_body(
            community, record, "0x" + provider_sig.hex(), "0x" + recipient_sig.hex()
        )
        return Message(self.name, str(community), normalized, record.provider)

    def check(self, message: Message) -> None:
        community, signed, _, recipient_sig = self.read(message.payload)
        record = signed.record
        if record.recipient == self.community_account:
            confirmer = self._signer(self._digest(community, record), recipient_sig)
            if not self.registry.functions.hasRole(community, COORDINATOR, confirmer).call():
                raise InvalidMessage("NotCoordinator", f"{confirmer} is not a coordinator")
            # The contract's rule too: a coordinator cannot confirm their own service.
            if confirmer == record.provider:
                raise InvalidMessage("CoordinatorIsParty", f"{confirmer} provided this service")
        for party in (record.provider, record.recipient):
            if party != self.community_account and not self._resident(community, party):
                raise InvalidMessage(
                    "NotResident", f"{party} is not on community {community}'s roll"
                )
        floor, ceiling = self._limits(community)
        if record.minutes_served > ceiling - floor:
            # No balance between the floor and the ceiling can take this many minutes.
            raise InvalidMessage(
                "AboveCeiling",
                f"{record.minutes_served} minutes: balances in community {community} stay "
                f"between {floor} and {ceiling}",
            )
        self._claim_nonce(community, record.provider, record.nonce, message.receipt_id)

    def check_is_local(self, message: Message) -> bool:
        community = int(message.payload["communityId"])
        record = message.payload["record"]
        version = self._fresh_version(community)
        if version is None:
            return False
        roll = self.rolls.cached(community, version)
        return (
            roll is not None
            # A coordinator's confirmation asks the Registry for the role.
            and record["recipient"] != self.community_account
            and record["provider"].lower() in roll
            and record["recipient"].lower() in roll
            and (community, record["provider"].lower()) in self._nonces
            and self._limits_fresh(community)
        )

    def _limits_fresh(self, community: int) -> bool:
        cached = self._limit_cache.get(community)
        return cached is not None and time.monotonic() - cached[1] < self.ROLL_VERSION_TTL_S

    def _limits(self, community: int) -> tuple[int, int]:
        """The community's (floor, ceiling), read again after ROLL_VERSION_TTL_S like the roll's
        version (an admin may change them)."""
        cached = self._limit_cache.get(community)
        if cached is None or not self._limits_fresh(community):
            try:
                floor, ceiling = self.timebank.functions.limitsOf(community).call()
                limits = (int(floor), int(ceiling))
            except NODE_AWAY:
                if cached is None:
                    raise
                limits = cached[0]  # as read before; the contract judges a change since
            cached = (limits, time.monotonic())
            self._limit_cache[community] = cached
        return cached[0]

    def signed_digest(self, message: Message) -> bytes:
        community, signed, _, _ = self.read(message.payload)
        return self._digest(community, signed.record)

    def release(self, message: Message) -> None:
        """The outbox did not store this record: the nonce it holds is free again."""
        record = message.payload["record"]
        key = (int(message.payload["communityId"]), record["provider"].lower())
        with self._lock:
            nonces = self._nonces.get(key)
            if nonces is not None and nonces.held.get(int(record["nonce"])) == message.receipt_id:
                del nonces.held[int(record["nonce"])]

    def _fresh_version(self, community: int) -> int | None:
        """The community's published roll version if read within the time to live, else None."""
        cached = self._versions.get(community)
        if cached is None or time.monotonic() - cached[1] >= self.ROLL_VERSION_TTL_S:
            return None
        return cached[0]

    def _published_version(self, community: int) -> int:
        version = self._fresh_version(community)
        if version is None:
            try:
                version = int(self.registry.functions.rollSnapshot(community).call()[0])
            except NODE_AWAY:
                # The version known before: a removal published since is skipped on-chain.
                stale = self._versions.get(community)
                if stale is None:
                    raise
                version = stale[0]
            self._versions[community] = (version, time.monotonic())
        return version

    def _resident(self, community: int, party: str) -> bool:
        version = self._published_version(community)
        if version and party.lower() in self.rolls.members(community, version):
            return True
        # The cache only ever says no too often (added since the version was read): ask.
        found: bool = self.registry.functions.isResident(community, party).call()
        return found

    def _claim_nonce(self, community: int, provider: str, nonce: int, receipt_id: str) -> None:
        """Refuses a nonce the chain has recorded or another acknowledged record of the provider
        holds (unless the relay let that one go); otherwise holds it for this record. The chain
        is read once per provider: recorded nonces stay recorded, and those recorded since by
        another path than this relay are skipped by the contract (NonceAlreadyUsed), which the
        receipt then says."""
        key = (community, provider.lower())
        nonces = self._nonces.get(key)
        if nonces is None:
            base, window = self.timebank.functions.nonceState(community, provider).call()
            seen = _ProviderNonces(int(base), int(window))
            for payload in self.in_flight(provider):
                if int(payload["communityId"]) == community:
                    queued = Message(self.name, str(community), payload, provider)
                    seen.held[int(payload["record"]["nonce"])] = queued.receipt_id
            with self._lock:
                nonces = self._nonces.setdefault(key, seen)
        with self._lock:
            holder = nonces.held.get(nonce)
            held = holder is not None and holder != receipt_id and not self.released(holder)
            if nonces.recorded(nonce) or held:
                raise InvalidMessage("NonceAlreadyUsed", f"{provider} already used nonce {nonce}")
            if nonce - nonces.base >= NONCE_WINDOW:
                raise InvalidMessage(
                    "NonceTooFarAhead",
                    f"nonce {nonce} for {provider}: the time bank takes nonces below "
                    f"{nonces.base + NONCE_WINDOW} until the ones before them are used",
                )
            nonces.held[nonce] = receipt_id

    def gas_bound(self, payload: dict[str, Any]) -> int:
        return SERVICE_GAS_BOUND

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        items = [self.read(p)[1].as_tuple() for p in payloads]
        return BatchCall.of(self.timebank.functions.recordServices(int(group), items))

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        # Replay protection is per (provider, nonce): that pair names a record in its batch.
        found: dict[tuple[str, int], Outcome] = {}
        for event in self.timebank.events.ServiceRecorded().process_receipt(
            receipt, errors=DISCARD
        ):
            key = (event["args"]["provider"], int(event["args"]["nonce"]))
            found[key] = Outcome(COUNTED)
        for event in self.timebank.events.ServiceSkipped().process_receipt(receipt, errors=DISCARD):
            decoded = self.decoder.decode(bytes(event["args"]["reason"]))
            key = (event["args"]["provider"], int(event["args"]["nonce"]))
            found[key] = Outcome(REJECTED, decoded[0] if decoded else "skipped")
        results = []
        for p in payloads:
            community, signed, _, _ = self.read(p)
            key = (signed.record.provider, signed.record.nonce)
            outcome = found.get(
                key, Outcome(REJECTED, "no event for this record in its transaction")
            )
            if outcome.status == COUNTED:
                outcome = Outcome(COUNTED, "0x" + record_id(community, signed.record).hex())
            results.append(outcome)
        return results
