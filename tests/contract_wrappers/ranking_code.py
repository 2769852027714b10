"""An independent model of how Elections stores a ranked ballot (contracts/libraries/RankingCode.sol):
each ranking is a number below `base`, packed `per_word` to a storage word as base-`base` digits,
lowest first. Written from the rule, with lists, not from the contract's nibble arithmetic."""

from __future__ import annotations

from collections.abc import Sequence

from web3 import Web3

WORD = 2**256


def base(count: int, max_choices: int) -> int:
    """How many rankings of at most `max_choices` of `count` candidates there are (the empty one
    too)."""
    total, orderings = 1, 1
    for i in range(max_choices):
        orderings *= count - i
        total += orderings
    return total


def per_word(code_base: int) -> int:
    """The most codes a word holds: the largest k with code_base**k < 2**256."""
    k = 0
    while code_base ** (k + 1) < WORD:
        k += 1
    return k


def encode(ranking: Sequence[int], count: int) -> int:
    """Digit i is c_i's place among the candidates not ranked before it; code = sum of
    (1 + digit) times count * (count - 1) * ... over the ranks before it."""
    unranked = list(range(count))
    code, weight = 0, 1
    for i, candidate in enumerate(ranking):
        code += (1 + unranked.index(candidate)) * weight
        weight *= count - i
        unranked.remove(candidate)
    return code


def decode(code: int, count: int) -> list[int]:
    unranked = list(range(count))
    ranking = []
    while code:
        code, digit = divmod(code - 1, len(unranked))
        ranking.append(unranked.pop(digit))
    return ranking


def pack(codes: Sequence[int], code_base: int) -> int:
    """One storage word holding `codes`, the first in the lowest digit."""
    return sum(code * code_base**i for i, code in enumerate(codes))


def first_ballot_word(w3: Web3, address: str, election_id: int, first: int, code_base: int) -> int:
    """The storage slot of an election's first ballot word: word 0 of a mapping in one of the
    contract's first slots (its own, keyed by the election id, or a shared area, keyed 0..7)
    whose lowest digit is the first ballot's code `first`."""
    for slot in range(3, 16):
        for key in (election_id, *range(8)):
            inner = Web3.keccak(key.to_bytes(32, "big") + slot.to_bytes(32, "big"))
            word = int.from_bytes(Web3.keccak(bytes(32) + inner), "big")
            value = int.from_bytes(
                w3.eth.get_storage_at(Web3.to_checksum_address(address), word), "big"
            )
            if value and value % code_base == first:
                return word
    raise AssertionError("no ballot word found")
