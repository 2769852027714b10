"""Typed client of TimeBank: relay signed service records (one, or many per transaction),
reverse them (with the proof that the original is a committed record), read balances and
limits, and decode the events that rebuild every balance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from ledger.signing.services import (
    CompactSignature,
    ServiceRecord,
    SignedRecord,
    record_id,
    timebank_domain,
)
from ledger.tx import ErrorDecoder, send


@dataclass(frozen=True)
class EventRef:
    """Where an event sits on the chain (for audit trails and ordering)."""

    block_number: int
    tx_hash: str
    log_index: int

    @classmethod
    def of(cls, event: EventData) -> EventRef:
        return cls(
            block_number=int(event["blockNumber"]),
            tx_hash="0x" + bytes(event["transactionHash"]).hex(),
            log_index=int(event["logIndex"]),
        )


@dataclass(frozen=True)
class ServiceRecorded:
    community_id: int
    provider: ChecksumAddress
    recipient: ChecksumAddress
    record_id: bytes
    minutes_served: int
    category: bytes
    note_hash: bytes
    nonce: int
    ref: EventRef


@dataclass(frozen=True)
class ServiceSkipped:
    """A batch entry that was not recorded; `error` names the custom error it broke."""

    community_id: int
    record_id: bytes
    provider: ChecksumAddress
    nonce: int
    error: str
    error_args: tuple[Any, ...]
    ref: EventRef


@dataclass(frozen=True)
class ServiceReversed:
    community_id: int
    provider: ChecksumAddress
    recipient: ChecksumAddress
    record_id: bytes
    minutes_served: int
    reason_hash: bytes
    ref: EventRef


@dataclass(frozen=True)
class ServiceBatchCommitted:
    """A recording call committed to the ids it recorded, in order: `root` is keccak256 of their
    concatenation, and they are the `count` ServiceRecorded events just before this one."""

    community_id: int
    batch_id: int
    root: bytes
    count: int
    ref: EventRef


@dataclass(frozen=True)
class BatchProof:
    """Where a recorded record sits (ITimeBank.BatchProof): its call's batch, every id that call
    recorded in order, and the record's index among them."""

    batch_id: int
    record_ids: tuple[bytes, ...]
    index: int

    def as_tuple(self) -> tuple[int, list[bytes], int]:
        return (self.batch_id, list(self.record_ids), self.index)


# What the contract is given when no batch holds the record: it then names the broken rule.
NO_PROOF: Final = BatchProof(batch_id=0, record_ids=(), index=0)


@dataclass(frozen=True)
class LimitsSet:
    community_id: int
    floor: int
    ceiling: int
    set_by: ChecksumAddress
    ref: EventRef


TimeBankEvent = (
    ServiceRecorded | ServiceSkipped | ServiceReversed | ServiceBatchCommitted | LimitsSet
)
EVENT_NAMES: Final = (
    "LimitsSet",
    "ServiceRecorded",
    "ServiceSkipped",
    "ServiceReversed",
    "ServiceBatchCommitted",
)


@dataclass(frozen=True)
class BatchResult:
    receipt: TxReceipt
    recorded: list[ServiceRecorded]
    skipped: list[ServiceSkipped]
    batch: ServiceBatchCommitted | None  # None when nothing was recorded

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])


class TimeBankContract:
    """One TimeBank deployment. Transactions go through `ledger.tx.send`, so a broken rule
    raises `ContractRuleBroken` naming the contract's custom error."""

    def __init__(self, w3: Web3, contract: Contract, decoder: ErrorDecoder | None = None) -> None:
        self.w3 = w3
        self.contract = contract
        self.decoder = decoder or ErrorDecoder([_abi_list(contract)])

    @property
    def address(self) -> ChecksumAddress:
        return to_checksum_address(self.contract.address)

    def domain(self) -> dict[str, Any]:
        """The EIP-712 domain both sides of a record sign under."""
        return timebank_domain(self.w3.eth.chain_id, self.address)

    # ------------------------------------------------------------------ transactions

    def set_limits(
        self, admin: LocalAccount, community_id: int, floor: int, ceiling: int
    ) -> TxReceipt:
        return self._send(admin, self.contract.functions.setLimits(community_id, floor, ceiling))

    def record_service(
        self, relayer: LocalAccount, community_id: int, signed: SignedRecord
    ) -> ServiceRecorded:
        """Record one service; raises ContractRuleBroken if the contract refuses it."""
        fn = self.contract.functions.recordService(community_id, signed.as_tuple())
        recorded = self._decode(self._send(relayer, fn))
        (event,) = [e for e in recorded if isinstance(e, ServiceRecorded)]
        return event

    def record_services(
        self,
        relayer: LocalAccount,
        community_id: int,
        batch: Sequence[SignedRecord],
        *,
        gas: int | None = None,
    ) -> BatchResult:
        """Relay a batch; bad records come back in `skipped` with the error they broke."""
        fn = self.contract.functions.recordServices(community_id, [s.as_tuple() for s in batch])
        receipt = self._send(relayer, fn, gas=gas)
        events = self._decode(receipt)
        return BatchResult(
            receipt=receipt,
            recorded=[e for e in events if isinstance(e, ServiceRecorded)],
            skipped=[e for e in events if isinstance(e, ServiceSkipped)],
            batch=next((e for e in events if isinstance(e, ServiceBatchCommitted)), None),
        )

    def reverse_service(
        self,
        relayer: LocalAccount,
        community_id: int,
        original: ServiceRecord,
        reason_hash: bytes,
        provider_sig: CompactSignature,
        recipient_sig: CompactSignature,
        proof: BatchProof | None = None,
    ) -> ServiceReversed:
        """Reverse `original`; without `proof` its batch is found from the chain's events (and if
        none holds it, the contract is left to name the rule: RecordNotFound, BatchRootMismatch)."""
        if proof is None:
            proof = self.batch_proof(community_id, original) or NO_PROOF
        fn = self.contract.functions.reverseService(
            community_id,
            original.as_tuple(),
            proof.as_tuple(),
            reason_hash,
            provider_sig.as_tuple(),
            recipient_sig.as_tuple(),
        )
        (event,) = [
            e for e in self._decode(self._send(relayer, fn)) if isinstance(e, ServiceReversed)
        ]
        return event

    # ------------------------------------------------------------------ views

    def balance_of(self, community_id: int, account: str) -> int:
        value: int = self.contract.functions.balanceOf(
            community_id, to_checksum_address(account)
        ).call()
        return value

    def limits_of(self, community_id: int) -> tuple[int, int]:
        floor, ceiling = self.contract.functions.limitsOf(community_id).call()
        return int(floor), int(ceiling)

    def is_recorded(self, community_id: int, provider: str, nonce: int) -> bool:
        return bool(
            self.contract.functions.isRecorded(
                community_id, to_checksum_address(provider), nonce
            ).call()
        )

    def is_reversed(self, community_id: int, provider: str, nonce: int) -> bool:
        return bool(
            self.contract.functions.isReversed(
                community_id, to_checksum_address(provider), nonce
            ).call()
        )

    def nonce_state(self, community_id: int, provider: str) -> tuple[int, int]:
        """(nonce_base, window): every nonce below the base is recorded; bit i of the window
        tells whether base + i is."""
        base, window = self.contract.functions.nonceState(
            community_id, to_checksum_address(provider)
        ).call()
        return int(base), int(window)

    def free_nonces(
        self, community_id: int, provider: str, count: int = 1, taken: Iterable[int] = ()
    ) -> list[int]:
        """The lowest `count` nonces the contract would accept for `provider`, skipping `taken`
        (e.g. records signed but still queued). The contract takes nonces up to base + 127."""
        base, window = self.nonce_state(community_id, provider)
        skip = set(taken)
        free = [base + i for i in range(128) if not window >> i & 1 and base + i not in skip]
        return free[:count]

    @staticmethod
    def record_id(community_id: int, record: ServiceRecord) -> bytes:
        return record_id(community_id, record)

    def batch_proof(
        self, community_id: int, record: ServiceRecord, from_block: int = 0
    ) -> BatchProof | None:
        """The proof that `record` was recorded exactly as it is, rebuilt from the events of the
        transaction that recorded it; None if no ServiceRecorded carries it."""
        wanted = record_id(community_id, record)
        found = self.contract.events.ServiceRecorded().get_logs(
            from_block=from_block,
            argument_filters={
                "communityId": community_id,
                "provider": to_checksum_address(record.provider),
                "recipient": to_checksum_address(record.recipient),
            },
        )
        for event in found:
            typed = self._typed(event)
            if isinstance(typed, ServiceRecorded) and typed.record_id == wanted:
                return self._proof_in_block(typed.ref, wanted)
        return None

    def _proof_in_block(self, ref: EventRef, wanted: bytes) -> BatchProof | None:
        in_tx = [
            e
            for e in self.events(ref.block_number, ref.block_number)
            if e.ref.tx_hash == ref.tx_hash
        ]
        return proof_from_events(in_tx, wanted)

    # ------------------------------------------------------------------ events

    def events(self, from_block: int = 0, to_block: int | str = "latest") -> list[TimeBankEvent]:
        """Every TimeBank event in the block range, in chain order."""
        raw: list[EventData] = []
        for name in EVENT_NAMES:
            event_type = getattr(self.contract.events, name)
            raw.extend(event_type().get_logs(from_block=from_block, to_block=to_block))
        raw.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
        return [self._typed(e) for e in raw]

    def _decode(self, receipt: TxReceipt) -> list[TimeBankEvent]:
        out: list[EventData] = []
        for name in EVENT_NAMES:
            event_type = getattr(self.contract.events, name)
            # DISCARD: a receipt also holds logs of other events (and other contracts).
            out.extend(event_type().process_receipt(receipt, errors=DISCARD))
        out.sort(key=lambda e: e["logIndex"])
        return [self._typed(e) for e in out]

    def _typed(self, event: EventData) -> TimeBankEvent:
        a = event["args"]
        ref = EventRef.of(event)
        name = event["event"]
        if name == "ServiceRecorded":
            record = ServiceRecord(
                provider=to_checksum_address(a["provider"]),
                recipient=to_checksum_address(a["recipient"]),
                minutes_served=a["minutesServed"],
                category=bytes(a["category"]),
                note_hash=bytes(a["noteHash"]),
                nonce=a["nonce"],
            )
            return ServiceRecorded(
                community_id=a["communityId"],
                provider=to_checksum_address(record.provider),
                recipient=to_checksum_address(record.recipient),
                # Not in the event (gas): it is the struct hash of the fields that are.
                record_id=record_id(a["communityId"], record),
                minutes_served=record.minutes_served,
                category=record.category,
                note_hash=record.note_hash,
                nonce=record.nonce,
                ref=ref,
            )
        if name == "ServiceSkipped":
            decoded = self.decoder.decode(bytes(a["reason"]))
            error, args = decoded if decoded is not None else ("Unknown", (bytes(a["reason"]),))
            return ServiceSkipped(
                community_id=a["communityId"],
                record_id=bytes(a["recordId"]),
                provider=to_checksum_address(a["provider"]),
                nonce=a["nonce"],
                error=error,
                error_args=tuple(_checksummed(v) for v in args),
                ref=ref,
            )
        if name == "ServiceReversed":
            return ServiceReversed(
                community_id=a["communityId"],
                provider=to_checksum_address(a["provider"]),
                recipient=to_checksum_address(a["recipient"]),
                record_id=bytes(a["recordId"]),
                minutes_served=a["minutesServed"],
                reason_hash=bytes(a["reasonHash"]),
                ref=ref,
            )
        if name == "ServiceBatchCommitted":
            return ServiceBatchCommitted(
                community_id=a["communityId"],
                batch_id=a["batchId"],
                root=bytes(a["root"]),
                count=a["count"],
                ref=ref,
            )
        return LimitsSet(
            community_id=a["communityId"],
            floor=a["floor"],
            ceiling=a["ceiling"],
            set_by=to_checksum_address(a["setBy"]),
            ref=ref,
        )

    def _send(self, account: LocalAccount, call: Any, *, gas: int | None = None) -> TxReceipt:
        return send(self.w3, account, call, decoder=self.decoder, gas=gas)


def balances_from_events(events: Iterable[TimeBankEvent]) -> dict[tuple[int, ChecksumAddress], int]:
    """Rebuild every balance from events alone (what the audit does): records credit the
    provider and debit the recipient; reversals undo that."""
    balances: dict[tuple[int, ChecksumAddress], int] = defaultdict(int)
    for event in events:
        if isinstance(event, ServiceRecorded):
            balances[(event.community_id, event.provider)] += event.minutes_served
            balances[(event.community_id, event.recipient)] -= event.minutes_served
        elif isinstance(event, ServiceReversed):
            balances[(event.community_id, event.provider)] -= event.minutes_served
            balances[(event.community_id, event.recipient)] += event.minutes_served
    return dict(balances)


def proof_from_events(events: Iterable[TimeBankEvent], wanted: bytes) -> BatchProof | None:
    """The batch proof of record `wanted` from one contract's events in chain order: a batch's
    ids are the ServiceRecorded events since the previous ServiceBatchCommitted of the same
    transaction."""
    pending: list[bytes] = []
    tx = ""
    for event in events:
        if event.ref.tx_hash != tx:
            pending, tx = [], event.ref.tx_hash
        if isinstance(event, ServiceRecorded):
            pending.append(event.record_id)
        elif isinstance(event, ServiceBatchCommitted):
            if wanted in pending:
                return BatchProof(event.batch_id, tuple(pending), pending.index(wanted))
            pending = []
    return None


def _abi_list(contract: Contract) -> list[dict[str, Any]]:
    return [dict(item) for item in contract.abi]


def _checksummed(value: Any) -> Any:
    """eth-abi decodes addresses lower-case; everything else in the ledger is checksummed."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value
