"""The native curve library: herumi's mcl as shipped inside the mclbn256 wheel, driven through
ctypes on alt_bn128.

The wheel's own wrapper initialises mcl on a different BN254 curve (Fp254BNb) when it is
imported; it is imported here only to unpack and load the shared library, which is then
re-initialised on SNARK1 (alt_bn128, the curve of the EVM's 0x06/0x07 precompiles). Nothing
else of the wrapper is used. `ledger.secret.group` self-tests the result before any use.
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, Structure, c_char_p, c_int, c_size_t, c_uint64, c_void_p

from ledger.secret.errors import CurveLibraryUntrusted

# mcl's curve ids (include/mcl/curve_type.h): 4 is MCL_BN_SNARK1, Ethereum's alt_bn128.
CURVE_SNARK1 = 4
# bn.h: MCLBN_COMPILED_TIME_VAR = MCLBN_FR_UNIT_SIZE * 10 + MCLBN_FP_UNIT_SIZE, the ABI check.
_UNITS = 4
COMPILED_TIME_VAR = _UNITS * 10 + _UNITS
WORD_BYTES = 32


class Fp(Structure):
    """mclBnFp: a base-field element, four 64-bit limbs in Montgomery form."""

    _fields_ = [("d", c_uint64 * _UNITS)]


class Fr(Structure):
    """mclBnFr: a scalar, four 64-bit limbs in Montgomery form."""

    _fields_ = [("d", c_uint64 * _UNITS)]


class G1(Structure):
    """mclBnG1: a point in Jacobian coordinates (z = 0 is the point at infinity)."""

    _fields_ = [("x", Fp), ("y", Fp), ("z", Fp)]


def _declare(lib: ctypes.CDLL) -> None:
    """Argument and result types of the functions used, so ctypes checks every call."""
    g1, fr, fp = POINTER(G1), POINTER(Fr), POINTER(Fp)
    signatures: dict[str, tuple[list[type], type | None]] = {
        "mclBn_init": ([c_int, c_int], c_int),
        "mclBn_getCurveOrder": ([c_char_p, c_size_t], c_size_t),
        "mclBn_getFieldOrder": ([c_char_p, c_size_t], c_size_t),
        "mclBnFp_deserialize": ([fp, c_void_p, c_size_t], c_size_t),
        "mclBnFp_serialize": ([c_void_p, c_size_t, fp], c_size_t),
        "mclBnFp_setInt32": ([fp, c_int], None),
        "mclBnFr_deserialize": ([fr, c_void_p, c_size_t], c_size_t),
        "mclBnG1_clear": ([g1], None),
        "mclBnG1_isZero": ([g1], c_int),
        "mclBnG1_isEqual": ([g1, g1], c_int),
        "mclBnG1_normalize": ([g1, g1], None),
        "mclBnG1_neg": ([g1, g1], None),
        "mclBnG1_add": ([g1, g1, g1], None),
        "mclBnG1_sub": ([g1, g1, g1], None),
        "mclBnG1_mul": ([g1, g1, fr], None),
        "mclBnG1_mulVec": ([g1, g1, fr, c_size_t], None),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype


def load() -> ctypes.CDLL:
    """The library, initialised on alt_bn128 (not yet self-tested: see group.self_test)."""
    from mclbn256 import mclbn256 as wrapper  # unpacks and loads the .so; sets the wrong curve

    lib: ctypes.CDLL = wrapper.loaded_libraries["libmclbn256"]
    _declare(lib)
    if lib.mclBn_init(CURVE_SNARK1, COMPILED_TIME_VAR) != 0:
        raise CurveLibraryUntrusted("mclBn_init refused alt_bn128 (SNARK1)")
    return lib


def decimal_constant(lib: ctypes.CDLL, name: str) -> int:
    """The field or curve order as the library reports it (mclBn_getFieldOrder/CurveOrder)."""
    buffer = ctypes.create_string_buffer(128)
    size = getattr(lib, name)(buffer, len(buffer))
    if size == 0:
        raise CurveLibraryUntrusted(f"{name} returned nothing")
    return int(buffer.value[:size].decode())
