"""The ledger's exceptions: one root, one subclass per thing that can go wrong.

The API maps these to HTTP in one place (api/errors.py); the CLI prints them as one line.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class ConfigError(LedgerError):
    """The settings are inconsistent or point at something that is not there."""


class BuildError(LedgerError):
    """The contracts did not compile, or the compiler could not be run."""


class NodeError(LedgerError):
    """The chain node could not be started, reached, or trusted."""


class WrongChain(NodeError):
    """An attached node reports a chain id other than the configured one."""

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(f"node reports chain id {found}, configured chain id is {expected}")
        self.expected = expected
        self.found = found


class AuditInfraError(LedgerError):
    """The audit could not be carried out (a compiler missing, a record unreadable, an answer
    from the node it cannot use): nothing is known about the chain, which is different from a
    finding about it. A node that does not answer at all raises NodeError."""


class DeploymentError(LedgerError):
    """Deployment record missing, stale, or inconsistent with the chain."""


class IndexerError(LedgerError):
    """The event index could not be brought in line with the chain."""


class IndexInconsistent(IndexerError):
    """The index holds events the chain's logs do not make (an edited database, a bug): it
    answers no reads until it is rebuilt from the chain."""


class TxError(LedgerError):
    """A transaction could not be sent or did not succeed."""


class ContractRuleBroken(TxError):
    """The contract refused the call with a custom error: a rule of the domain was broken.

    `error` is the custom error's name (e.g. "AlreadyVoted"); `args_` its decoded arguments.
    """

    def __init__(self, error: str, args: tuple[Any, ...] = (), tx_hash: str | None = None) -> None:
        rendered = ", ".join(_render(a) for a in args)
        super().__init__(f"{error}({rendered})")
        self.error = error
        self.args_ = args
        self.tx_hash = tx_hash


class TxReverted(TxError):
    """A transaction was mined but reverted, or reverted without a decodable reason."""

    def __init__(self, message: str, tx_hash: str | None = None) -> None:
        super().__init__(message if tx_hash is None else f"{message} (tx {tx_hash})")
        self.tx_hash = tx_hash


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class RelayError(LedgerError):
    """The relay could not take or deliver a message."""


class InvalidMessage(RelayError):
    """A signed message was refused before acknowledgement; `code` names the broken rule."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class QueueFull(RelayError):
    """The outbox holds as many unsent messages as it may; try again shortly."""


class UnknownReceipt(RelayError):
    """No message with that receipt id was ever acknowledged here."""
