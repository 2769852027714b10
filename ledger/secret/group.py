"""G1 of alt_bn128 (the EVM's bn254 precompiles): points, scalars and their arithmetic.

Every point that comes from outside goes through `Point.from_words`, which checks both
coordinates against p and the curve equation y² = x³ + 3 itself before the library sees it
(G1's cofactor is 1, so on the curve means in the group); (0, 0) is the point at infinity, as
for the precompiles. Every untrusted scalar goes through `check_scalar`. Arithmetic is mcl's
(about 30 µs a multiplication against 6 ms in pure Python; bench/secret_crypto.py), self-tested
when this module is imported: a library that fails the test raises, it is never used.
"""

from __future__ import annotations

import ctypes
import secrets
from collections.abc import Callable, Sequence
from typing import Final

from ledger.secret import mcl
from ledger.secret.errors import CurveLibraryUntrusted, InvalidPoint, InvalidScalar

P: Final = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R: Final = 21888242871839275222246405745257275088548364400416034343698204186575808495617
# 2·g, as every alt_bn128 implementation (and the EVM's ecMul) computes it.
TWO_G: Final = (
    0x030644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD3,
    0x15ED738C0E0A7C92E7845F96B2AE9C0A68A6A449E3538FC7FF3EBF7A5A18A2C4,
)
_BYTES: Final = mcl.WORD_BYTES

_lib = mcl.load()


def check_scalar(value: int) -> int:
    """`value` if it is a scalar (0 <= value < r), else InvalidScalar."""
    if not 0 <= value < R:
        raise InvalidScalar(value)
    return value


Draw = Callable[[], int]
"""A source of scalars: random_scalar, or a seeded generator for test vectors."""


def random_scalar() -> int:
    """A uniformly random non-zero scalar from the operating system's CSPRNG."""
    return 1 + secrets.randbelow(R - 1)


def _fr(value: int) -> mcl.Fr:
    fr = mcl.Fr()
    data = (value % R).to_bytes(_BYTES, "little")
    if _lib.mclBnFr_deserialize(fr, data, _BYTES) != _BYTES:
        raise CurveLibraryUntrusted(f"mcl refused the scalar {value % R:#x}")
    return fr


def _fp(value: int) -> mcl.Fp:
    fp = mcl.Fp()
    if _lib.mclBnFp_deserialize(fp, value.to_bytes(_BYTES, "little"), _BYTES) != _BYTES:
        raise CurveLibraryUntrusted(f"mcl refused the coordinate {value:#x}")
    return fp


def _word(fp: mcl.Fp) -> int:
    buffer = ctypes.create_string_buffer(_BYTES)
    if _lib.mclBnFp_serialize(buffer, _BYTES, fp) != _BYTES:
        raise CurveLibraryUntrusted("mcl could not serialise a coordinate")
    return int.from_bytes(buffer.raw, "little")


class Point:
    """A point of G1, immutable. Build one from untrusted words with `from_words`."""

    __slots__ = ("_g", "_words")

    def __init__(self, g: mcl.G1, words: tuple[int, int] | None = None) -> None:
        self._g = g
        self._words = words

    @classmethod
    def from_words(cls, x: int, y: int) -> Point:
        """The point (x, y), checked: both below p and on the curve; (0, 0) is infinity."""
        if not (0 <= x < P and 0 <= y < P):
            raise InvalidPoint(x, y, "a coordinate is not below the field prime p")
        g = mcl.G1()
        if x == 0 and y == 0:
            _lib.mclBnG1_clear(g)
            return cls(g, (0, 0))
        # Our own check, not mcl's isValid: that one also multiplies by r (45 µs), and G1's
        # cofactor is 1, so on the curve is in the group.
        if (y * y - x * x * x - 3) % P != 0:
            raise InvalidPoint(x, y, "not on the curve y² = x³ + 3")
        g.x, g.y = _fp(x), _fp(y)
        _lib.mclBnFp_setInt32(g.z, 1)
        return cls(g, (x, y))

    @classmethod
    def infinity(cls) -> Point:
        """The identity of the group, (0, 0) in words."""
        return cls.from_words(0, 0)

    def words(self) -> tuple[int, int]:
        """The affine coordinates (x, y) as the EVM writes them; (0, 0) for infinity."""
        if self._words is None:
            if _lib.mclBnG1_isZero(self._g):
                self._words = (0, 0)
            else:
                normal = mcl.G1()
                _lib.mclBnG1_normalize(normal, self._g)
                self._words = (_word(normal.x), _word(normal.y))
        return self._words

    def is_infinity(self) -> bool:
        return bool(_lib.mclBnG1_isZero(self._g))

    def __add__(self, other: Point) -> Point:
        out = mcl.G1()
        _lib.mclBnG1_add(out, self._g, other._g)
        return Point(out)

    def __sub__(self, other: Point) -> Point:
        out = mcl.G1()
        _lib.mclBnG1_sub(out, self._g, other._g)
        return Point(out)

    def __neg__(self) -> Point:
        out = mcl.G1()
        _lib.mclBnG1_neg(out, self._g)
        return Point(out)

    def __mul__(self, scalar: int) -> Point:
        out = mcl.G1()
        _lib.mclBnG1_mul(out, self._g, _fr(scalar))
        return Point(out)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return bool(_lib.mclBnG1_isEqual(self._g, other._g))

    def __hash__(self) -> int:
        return hash(self.words())

    def __repr__(self) -> str:
        x, y = self.words()
        return f"Point({x:#x}, {y:#x})"


def multi_mul(points: Sequence[Point], scalars: Sequence[int]) -> Point:
    """Σ scalars[i]·points[i] in one multi-scalar multiplication (mcl's mulVec)."""
    if len(points) != len(scalars):
        raise ValueError(f"{len(points)} points for {len(scalars)} scalars")
    count = len(points)
    point_array = (mcl.G1 * count)(*(point._g for point in points))
    scalar_array = (mcl.Fr * count)(*(_fr(scalar) for scalar in scalars))
    out = mcl.G1()
    _lib.mclBnG1_mulVec(out, point_array, scalar_array, count)
    return Point(out)


def self_test() -> None:
    """Refuse a library that is not computing on alt_bn128 with g = (1, 2): its p and r, r·g
    = infinity, 2·g the known point, g + g = 2·g."""
    if mcl.decimal_constant(_lib, "mclBn_getFieldOrder") != P:
        raise CurveLibraryUntrusted("mcl's field prime is not alt_bn128's p")
    if mcl.decimal_constant(_lib, "mclBn_getCurveOrder") != R:
        raise CurveLibraryUntrusted("mcl's group order is not alt_bn128's r")
    g = Point.from_words(1, 2)
    if not ((R - 1) * g + g).is_infinity():
        raise CurveLibraryUntrusted("r·g is not the point at infinity")
    if (2 * g).words() != TWO_G or (g + g).words() != TWO_G:
        raise CurveLibraryUntrusted("2·g is not alt_bn128's 2·g")


self_test()
G: Final = Point.from_words(1, 2)
INFINITY: Final = Point.infinity()
