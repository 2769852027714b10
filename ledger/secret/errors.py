"""What the secret-ballot cryptography refuses: untrusted input that is not a point, a scalar
or a proof of the protocol, and a native library it cannot trust."""

from __future__ import annotations

from ledger.errors import LedgerError


class SecretBallotError(LedgerError):
    """Root of the secret-ballot cryptography's refusals."""


class InvalidPoint(SecretBallotError):
    """Two words that are not a point of G1: a coordinate >= p, or off the curve y² = x³ + 3."""

    def __init__(self, x: int, y: int, why: str) -> None:
        super().__init__(f"({x:#x}, {y:#x}) is not a point of alt_bn128 G1: {why}")
        self.x = x
        self.y = y


class InvalidScalar(SecretBallotError):
    """A word used as a scalar that is not in [0, r)."""

    def __init__(self, value: int) -> None:
        super().__init__(f"{value:#x} is not a scalar below the group order r")
        self.value = value


class CurveLibraryUntrusted(SecretBallotError):
    """The native curve library failed its start-up self-test (wrong curve, wrong base point,
    wrong arithmetic): nothing may be computed with it."""


class DecryptionFailed(SecretBallotError):
    """The combined decryption is not m·g for any m within the bound (too few or wrong
    partials, or a tally larger than the ballots counted)."""
