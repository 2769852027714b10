"""The relay's kind for time-bank service records signed by both sides, batched per community.

Checked before acknowledgement, cheaply: the roll at a published version never changes and
recorded nonces stay recorded. Two answers are allowed to lag the chain by design, each toward
acknowledging: which roll version is published (read at most every couple of seconds) and which
nonces another path than this relay recorded after a provider was first seen. The contract is
the final judge either way: a record that slips through is skipped there, with its reason, and
its receipt says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.config import Settings
from ledger.errors import InvalidMessage, LedgerError
from ledger.hashing import checksum_address
from ledger.node import NODE_AWAY
from ledger.protocol.generated import Roles
from ledger.relay.message import (
    COUNTED,
    REJECTED,
    BatchCall,
    Message,
    Outcome,
    fixed_bytes,
)
from ledger.relay.rolls import RollCache
from ledger.signing.digests import typed_digest
from ledger.signing.eip712 import domain_separator, recover_address_bytes
from ledger.signing.services import (
    CompactSignature,
    ServiceRecord,
    SignedRecord,
    record_id,
    service_body,
    timebank_domain,
)
from ledger.tx import ErrorDecoder, view

# TimeBank's replay window: which of the nonces above a provider's nonceBase are recorded.
NONCE_WINDOW = 128
# TimeBank's nonces stay below 2^32 - 1 (its nonceBase is 32 bits wide).
NONCE_LIMIT = (1 << 32) - 1


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

    def __init__(
        self,
        w3: Web3,
        timebank: Contract,
        registry: Contract,
        settings: Settings,
        decoder: ErrorDecoder | None = None,
        rolls: RollCache | None = None,
    ) -> None:
        self.max_batch = settings.relay_service_batch
        self.base_gas = settings.relay_batch_base_gas
        self.gas = settings.relay_service_gas
        # How long a community's published roll version (and its limits) is trusted.
        self.version_ttl_s = settings.relay_roll_version_ttl_s
        self.w3 = w3
        self.timebank = timebank
        self.registry = registry
        self.domain = timebank_domain(w3.eth.chain_id, timebank.address)
        self.community_account = checksum_address(timebank.functions.COMMUNITY_ACCOUNT().call())
        self.decoder = decoder or ErrorDecoder([timebank.abi])
        self._separator = domain_separator(self.domain)
        self.rolls = rolls or RollCache(w3, registry, settings.relay_rolls_kept)
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
                category=fixed_bytes(r["category"], 8),
                note_hash=fixed_bytes(r["noteHash"], 32),
                nonce=int(r["nonce"]),
            )
            provider_sig = fixed_bytes(payload["providerSig"], 65)
            recipient_sig = fixed_bytes(payload["recipientSig"], 65)
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
        return typed_digest(self._separator, record_id(community, record))

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
            if not self.registry.functions.hasRole(community, Roles.COORDINATOR, confirmer).call():
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
        return cached is not None and time.monotonic() - cached[1] < self.version_ttl_s

    def _limits(self, community: int) -> tuple[int, int]:
        """The community's (floor, ceiling), read again after `version_ttl_s` like the roll's
        version (an admin may change them)."""
        cached = self._limit_cache.get(community)
        if cached is None or not self._limits_fresh(community):
            try:
                found = view(self.timebank.functions.limitsOf(community))
                limits = (int(found["floor"]), int(found["ceiling"]))
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
        if cached is None or time.monotonic() - cached[1] >= self.version_ttl_s:
            return None
        return cached[0]

    def _published_version(self, community: int) -> int:
        version = self._fresh_version(community)
        if version is None:
            try:
                version = int(view(self.registry.functions.rollSnapshot(community))["version"])
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
            state = view(self.timebank.functions.nonceState(community, provider))
            seen = _ProviderNonces(int(state["nonceBase"]), int(state["window"]))
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
        return self.gas

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
            found[key] = Outcome(REJECTED, decoded.name if decoded else "skipped")
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
