"""What the relay carries: a verified message, its receipt, what the chain made of it, and the
protocol each kind of signed message (ballot, service record, forward request) implements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.hashing import keccak

QUEUED, SENT, INCLUDED, COUNTED, REJECTED = "queued", "sent", "included", "counted", "rejected"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Message:
    """A verified message ready for the outbox."""

    kind: str
    group: str
    payload: dict[str, Any]
    signer: str
    # The relay's signed acknowledgement (JSON), stored with the message: not part of its id.
    ack: str | None = field(default=None, compare=False)

    # Cached: the hot path asks for both several times (checks, the write, the receipt).
    @cached_property
    def receipt_id(self) -> str:
        return "0x" + keccak(_canonical([self.kind, self.payload]).encode()).hex()

    @cached_property
    def payload_json(self) -> str:
        return _canonical(self.payload)


@dataclass(frozen=True)
class Receipt:
    id: str
    kind: str
    group: str
    signer: str
    status: str
    tx_hash: str | None
    block: int | None
    detail: str | None
    accepted_at: float
    updated_at: float
    ack: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the chain said about one message in a mined batch."""

    status: str  # COUNTED, REJECTED, or INCLUDED when the receipt could not be read
    detail: str | None = None


@dataclass(frozen=True)
class BatchCall:
    """A contract call as raw calldata: ABI-encoding a hundred structs through web3's generic
    machinery would cost more than everything else the relay does."""

    to: str
    data: bytes
    gas: int | None = None  # a safe upper bound, when the kind knows one; else estimated

    @classmethod
    def of(cls, call: ContractFunction) -> BatchCall:
        return cls(call.address, bytes(HexBytes(call._encode_transaction_data())))


class MessageRelay(Protocol):
    """One kind of signed message: how to read it, check it, batch it, and read its outcome."""

    name: str
    max_batch: int
    # Gas a batch of this kind needs besides its messages (the transaction, the call's frame).
    base_gas: int

    def gas_bound(self, payload: dict[str, Any]) -> int:
        """An upper bound on the gas one message adds to its batch: batches are packed by it,
        so that no batch can need more than a transaction may carry."""
        ...

    def parse(self, payload: dict[str, Any]) -> Message:
        """Normalize and check what needs no chain: form, signature. Raise InvalidMessage."""
        ...

    def check(self, message: Message) -> None:
        """Check the rules the chain holds (role, roll, window, nonce) before acknowledging."""
        ...

    def check_is_local(self, message: Message) -> bool:
        """Whether `check` can answer from memory, without asking the chain."""
        ...

    def signed_digest(self, message: Message) -> bytes:
        """The EIP-712 digest the sender signed: what an acknowledgement names."""
        ...

    def release(self, message: Message) -> None:
        """`check` passed but the outbox did not store the message: forget what `check` noted
        of it (a ballot's voter as voted, a record's nonce as held)."""
        ...

    def batch_call(self, group: str, payloads: Sequence[dict[str, Any]]) -> BatchCall:
        """The one contract call that carries these messages."""
        ...

    def outcomes(self, receipt: TxReceipt, payloads: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Per message, in order: counted, or rejected with the contract's reason."""
        ...


def fixed_bytes(value: Any, size: int | None = None) -> bytes:
    raw = bytes(HexBytes(value))
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw
