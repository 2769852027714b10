"""G1 over mcl: untrusted words are checked before use, and the arithmetic is alt_bn128's
(compared with py_ecc, the independent implementation)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.optimized_bn128 import G1 as ECC_G1
from py_ecc.optimized_bn128 import add as ecc_add
from py_ecc.optimized_bn128 import multiply as ecc_multiply
from py_ecc.optimized_bn128 import normalize as ecc_normalize

from ledger.secret import group, mcl
from ledger.secret.errors import CurveLibraryUntrusted, InvalidPoint, InvalidScalar
from ledger.secret.group import (
    INFINITY,
    TWO_G,
    G,
    P,
    Point,
    R,
    check_scalar,
    multi_mul,
    self_test,
)

scalars = st.integers(min_value=0, max_value=R - 1)


def ecc_words(scalar: int) -> tuple[int, int]:
    if scalar % R == 0:
        return (0, 0)
    x, y = ecc_normalize(ecc_multiply(ECC_G1, scalar))
    return (int(x), int(y))


def test_library_passes_its_self_test_on_alt_bn128() -> None:
    self_test()
    assert G.words() == (1, 2)
    assert (2 * G).words() == TWO_G


def test_library_left_on_the_wrappers_curve_is_refused() -> None:
    # What the mclbn256 wheel's own wrapper does on import: mcl on Fp254BNb, not alt_bn128.
    lib = group._lib
    try:
        assert lib.mclBn_init(0, mcl.COMPILED_TIME_VAR) == 0
        with pytest.raises(CurveLibraryUntrusted, match="field prime"):
            self_test()
    finally:
        assert lib.mclBn_init(mcl.CURVE_SNARK1, mcl.COMPILED_TIME_VAR) == 0
    self_test()
    assert (2 * G).words() == TWO_G


def test_zero_zero_is_the_point_at_infinity() -> None:
    assert Point.from_words(0, 0).is_infinity()
    assert G + INFINITY == G
    assert (G - G).words() == (0, 0)
    assert (0 * G).is_infinity()


def test_coordinate_plus_p_is_refused_though_it_reduces_to_a_point() -> None:
    x, y = TWO_G
    with pytest.raises(InvalidPoint, match="field prime"):
        Point.from_words(x + P, y)
    with pytest.raises(InvalidPoint, match="field prime"):
        Point.from_words(x, y + P)


def test_off_curve_point_is_refused() -> None:
    with pytest.raises(InvalidPoint, match="not on the curve"):
        Point.from_words(1, 3)
    with pytest.raises(InvalidPoint, match="not on the curve"):
        Point.from_words(0, 1)


def test_scalar_at_or_above_r_is_refused() -> None:
    assert check_scalar(R - 1) == R - 1
    for bad in (R, R + 1, 2**256 - 1, -1):
        with pytest.raises(InvalidScalar):
            check_scalar(bad)


@settings(max_examples=15, deadline=None)
@given(scalars, scalars)
def test_multiplication_and_addition_agree_with_py_ecc(a: int, b: int) -> None:
    assert (a * G).words() == ecc_words(a)
    expected = ecc_add(ecc_multiply(ECC_G1, a), ecc_multiply(ECC_G1, b))
    sum_words = (0, 0) if (a + b) % R == 0 else tuple(int(c) for c in ecc_normalize(expected))
    assert (a * G + b * G).words() == sum_words
    assert multi_mul([G, a * G], [b, 3]).words() == ecc_words(b + 3 * a)


@settings(max_examples=25, deadline=None)
@given(scalars)
def test_a_points_words_read_back_to_the_same_point(a: int) -> None:
    point = a * G
    assert Point.from_words(*point.words()) == point
    assert (-point + point).is_infinity()
