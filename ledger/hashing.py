"""Keccak-256 and EIP-55 addresses for the code that runs per message or per event (the relay,
the index, the audit).

Keccak comes from eth-hash's pysha3 backend (safe-pysha3's C keccak): ~0.55 µs a call on
100 bytes, as fast as safe-pysha3 called directly, against ~8 µs for eth-hash's default choice
(pycryptodome behind Python wrappers; it picks that one when both are installed) and ~20 µs
for an eth-utils checksum. Under 1,000 ballots/s, with several hashes and addresses per ballot,
that difference was a tenth of the relay's CPU. Code that runs once (start-up, scripts) keeps
using eth-utils.
"""

from __future__ import annotations

import re

from eth_hash.backends.pysha3 import keccak256
from eth_typing import ChecksumAddress, HexAddress, HexStr

_HEX_ADDRESS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{40})")
# Byte maps to 0x20 or 0: hex digits 8-f, and the letters a-f.
_HIGH_DIGIT = bytes(0x20 if chr(b) in "89abcdef" else 0 for b in range(256))
_LETTER = bytes(0x20 if chr(b) in "abcdef" else 0 for b in range(256))


def keccak(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's, not NIST SHA3-256) of `data`."""
    return keccak256(data)


def checksum_address(address: str | bytes) -> ChecksumAddress:
    """The EIP-55 form of an address given as 20 bytes or as 40 hex digits (0x optional, any
    case). Like eth-utils' `to_checksum_address`, a mixed-case input's checksum is not judged,
    only rewritten. ValueError for anything that is not an address."""
    if isinstance(address, bytes | bytearray):
        if len(address) != 20:
            raise ValueError(f"an address has 20 bytes, not {len(address)}")
        lower = address.hex()
    else:
        match = _HEX_ADDRESS.fullmatch(address) if isinstance(address, str) else None
        if match is None:
            raise ValueError(f"not an address: {address!r}")
        lower = match.group(1).lower()
    ascii_ = lower.encode()
    digest = keccak256(ascii_).hex()[:40].encode()
    # EIP-55: a letter is upper case where the hash's matching hex digit is 8 or more. Whole
    # strings as integers: 0x20 where both hold, XORed into the ASCII (lower to upper case).
    flip = int.from_bytes(digest.translate(_HIGH_DIGIT), "big") & int.from_bytes(
        ascii_.translate(_LETTER), "big"
    )
    checksummed = (int.from_bytes(ascii_, "big") ^ flip).to_bytes(40, "big").decode()
    return ChecksumAddress(HexAddress(HexStr("0x" + checksummed)))


def address_bytes(address: str) -> bytes:
    """The 20 bytes of an address given as 40 hex digits (0x optional, any case, checksum not
    judged). ValueError for anything that is not an address."""
    match = _HEX_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None:
        raise ValueError(f"not an address: {address!r}")
    return bytes.fromhex(match.group(1))
