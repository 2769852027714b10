"""A second, independent implementation of the ballot and partial-decryption proofs on py_ecc
(pure Python, ~6 ms a multiplication), with its own keccak (pycryptodome) and its own ABI
encoder (eth-abi): it shares no code with ledger.secret, so agreeing with it means both read
the spec the same way. Words in, words out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import py_ecc.optimized_bn128.optimized_curve as curve
from Crypto.Hash import keccak
from eth_abi.abi import encode
from py_ecc.fields import optimized_bn128_FQ as FQ

Pt = Any  # py_ecc's Jacobian triple
GENERATOR: Pt = curve.G1


def keccak_int(data: bytes) -> int:
    return int.from_bytes(keccak.new(digest_bits=256, data=data).digest(), "big")


TAG_BALLOT = keccak_int(b"commons.secret.ballot.v1")
TAG_PARTIAL = keccak_int(b"commons.secret.partial.v1")


def H(words: Sequence[int]) -> int:
    return keccak_int(encode(["uint256"] * len(words), list(words))) % curve.curve_order


def point(x: int, y: int) -> Pt:
    if x == 0 and y == 0:
        return curve.Z1
    if x >= curve.field_modulus or y >= curve.field_modulus:
        raise ValueError("coordinate >= p")
    candidate = (FQ(x), FQ(y), FQ(1))
    if not curve.is_on_curve(candidate, curve.b):
        raise ValueError("off the curve")
    return candidate


def words_of(p: Pt) -> list[int]:
    if p[2] == 0:
        return [0, 0]
    x, y = curve.normalize(p)
    return [int(x), int(y)]


def mul(p: Pt, s: int) -> Pt:
    return curve.multiply(p, s % curve.curve_order)


def sub(p: Pt, q: Pt) -> Pt:
    return curve.add(p, curve.neg(q))


def lin(p: Pt, s: int, q: Pt, t: int) -> Pt:
    """s·p - t·q."""
    return sub(mul(p, s), mul(q, t))


def prove_ballot(
    head: Sequence[int], key: Pt, choice: int, options: int, draw: Callable[[], int]
) -> list[int]:
    """head = [chainId, contract, e, voter, question]; the same draw order as ledger.secret."""
    chain_id, contract, vote, voter, question = head
    cts, commitments, secrets = [], [], []
    for j in range(options):
        m = 1 if j == choice else 0
        rho, w, c_fake, z_fake = draw(), draw(), draw(), draw()
        a, b = mul(curve.G1, rho), curve.add(mul(curve.G1, m), mul(key, rho))
        fake = 1 - m
        branch = {
            m: (mul(curve.G1, w), mul(key, w)),
            fake: (
                lin(curve.G1, z_fake, a, c_fake),
                lin(key, z_fake, sub(b, mul(curve.G1, fake)), c_fake),
            ),
        }
        cts += [a, b]
        commitments += [*branch[0], *branch[1]]
        secrets.append((m, rho, w, c_fake, z_fake))
    w_s = draw()
    commitments += [mul(curve.G1, w_s), mul(key, w_s)]
    c = H(
        [TAG_BALLOT, chain_id, contract, vote, *words_of(key), voter, question, options]
        + [w for p in cts + commitments for w in words_of(p)]
    )
    proof = [c]
    for m, rho, w, c_fake, z_fake in secrets:
        c_real = (c - c_fake) % curve.curve_order
        z_real = (w + c_real * rho) % curve.curve_order
        proof += [c_real, z_real, z_fake] if m == 0 else [c_fake, z_fake, z_real]
    proof.append((w_s + c * sum(s[1] for s in secrets)) % curve.curve_order)
    return [w for p in cts for w in words_of(p)] + proof


def verify_ballot(head: Sequence[int], key: Pt, options: int, words: Sequence[int]) -> bool:
    chain_id, contract, vote, voter, question = head
    if len(words) != 7 * options + 2:
        return False
    try:
        pts = [point(words[i], words[i + 1]) for i in range(0, 4 * options, 2)]
    except ValueError:
        return False
    proof = words[4 * options :]
    if any(s >= curve.curve_order for s in proof):
        return False
    c, z_s = proof[0], proof[-1]
    commitments = []
    sa, sb = curve.Z1, curve.Z1
    for j in range(options):
        a, b = pts[2 * j], pts[2 * j + 1]
        c0, z0, z1 = proof[1 + 3 * j : 4 + 3 * j]
        c1 = (c - c0) % curve.curve_order
        commitments += [
            lin(curve.G1, z0, a, c0),
            lin(key, z0, b, c0),
            lin(curve.G1, z1, a, c1),
            lin(key, z1, sub(b, curve.G1), c1),
        ]
        sa, sb = curve.add(sa, a), curve.add(sb, b)
    commitments += [lin(curve.G1, z_s, sa, c), lin(key, z_s, sub(sb, curve.G1), c)]
    expected = H(
        [TAG_BALLOT, chain_id, contract, vote, *words_of(key), voter, question, options]
        + list(words[: 4 * options])
        + [w for p in commitments for w in words_of(p)]
    )
    return expected == c


def verify_partial(
    head: Sequence[int], trustee: int, option: int, vkey: Pt, sa: Pt, words: Sequence[int]
) -> bool:
    """head = [chainId, contract, e]; words = D.x, D.y, c, z."""
    d = point(words[0], words[1])
    c, z = words[2], words[3]
    if c >= curve.curve_order or z >= curve.curve_order:
        return False
    a, b = lin(curve.G1, z, vkey, c), lin(sa, z, d, c)
    expected = H(
        [TAG_PARTIAL, *head, trustee, option]
        + [w for p in (vkey, sa, d, a, b) for w in words_of(p)]
    )
    return expected == c
