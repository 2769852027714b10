"""The secp256k1 group order, and the half of it above which an `s` is a malleable twin.

A signature (r, s) and its twin (r, n - s) recover the same signer; our contracts and
OpenZeppelin's ECDSA accept only the low one (s <= n/2), and so does every check here.
"""

from __future__ import annotations

from typing import Final

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N: Final = SECP256K1_N // 2
