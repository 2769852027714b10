"""What every rule check needs: the rebuilt state, the contracts' ABIs and addresses, the EIP-712
domains recomputed from first principles, and one place findings are raised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ledger.audit.abi import ContractAbi
from ledger.audit.chain import Call
from ledger.audit.ethcodec import to_hex
from ledger.audit.fetch import Log
from ledger.audit.model import AuditWarning, Finding
from ledger.audit.sigs import BallotVerifier
from ledger.audit.state import AuditState
from ledger.hashing import checksum_address
from ledger.protocol.generated import Domains
from ledger.signing.digests import domain_separator


def addr(value: Any) -> bytes:
    """An address from eth-abi (checksummed str) or raw bytes, as 20 bytes."""
    if isinstance(value, bytes):
        return value[-20:]
    return bytes.fromhex(str(value)[2:])


def show(value: Any) -> str:
    """A value as a finding prints it: a 20-byte value as an EIP-55 address, other bytes as
    0x-hex, inside tuples and lists too (never Python's b'..' repr)."""
    if isinstance(value, bytes | bytearray):
        return checksum_address(bytes(value)) if len(value) == 20 else to_hex(bytes(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    if isinstance(value, list | set | frozenset):
        items = sorted(value, key=repr) if not isinstance(value, list) else value
        return "[" + ", ".join(show(v) for v in items) + "]"
    return str(value)


class Emitted(NamedTuple):
    """An event as a call emitted it: the call's function and arguments by name (None where the
    call could not be decoded), the event's name and its values by name."""

    fn: str | None
    args: dict[str, Any] | None
    name: str
    ev: dict[str, Any]


@dataclass
class Ctx:
    state: AuditState
    chain_id: int
    contracts: dict[str, bytes]  # role -> address
    abis: dict[str, ContractAbi]  # role -> ABI
    verifier: BallotVerifier
    in_range: Callable[[int], bool]
    error_names: dict[bytes, str]

    def __post_init__(self) -> None:
        # Where findings and warnings go: the state while walking; separate lists once the walk
        # is over, so the state can be checkpointed while the final checks run.
        self.findings: list[Finding] = self.state.findings
        self.warnings: list[AuditWarning] = self.state.warnings
        self.role_of = {address: key for key, address in self.contracts.items()}
        self.council_domain = domain_separator(
            *Domains.Council, self.chain_id, self.contracts["council"]
        )
        self.timebank_domain = domain_separator(
            *Domains.TimeBank, self.chain_id, self.contracts["timebank"]
        )

    def find(
        self,
        rule: str,
        call: Call | None,
        expected: Any,
        found: Any,
        detail: str,
        *,
        block: int | None = None,
    ) -> None:
        where = call.block if call is not None else block
        if where is not None and not self.in_range(where):
            return
        self.findings.append(
            Finding(
                rule,
                where,
                call.tx if call is not None else None,
                None if expected is None else show(expected),
                None if found is None else show(found),
                detail,
            )
        )

    def warn(self, topic: str, call: Call | None, detail: str) -> None:
        self.warnings.append(
            AuditWarning(topic, call.block if call else None, call.tx if call else None, detail)
        )

    def detach(self) -> tuple[list[Finding], list[AuditWarning]]:
        """Send further findings and warnings to fresh lists (returned), not to the state."""
        self.findings, self.warnings = [], []
        return self.findings, self.warnings

    def actor_is(self, call: Call, named: bytes, event: str) -> None:
        """An event's acting-party field must be the call's sender (None: not traceable)."""
        if call.actor is not None and named != call.actor:
            self.find(
                "event.actor",
                call,
                call.actor,
                named,
                f"{event} names another account than the one whose call emitted it",
            )

    def decode(self, role: str, log: Log) -> tuple[str, dict[str, Any]] | None:
        event = self.abis[role].events.get(log.topics[0]) if log.topics else None
        if event is None:
            return None
        try:
            return event.name, event.decode(log.topics, log.data)
        except Exception:
            return None
