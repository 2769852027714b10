"""A text submitted with its author's signed ERC-2771 request calling a contract with the text's
hash (an initiative, a budget project): the call is read and its hash checked against the text,
the text stored, then the request relayed as `POST /forward` relays it."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode as abi_decode
from fastapi import Request
from hexbytes import HexBytes

from api.errors import ApiError
from api.schemas import ReceiptOut
from api.services import proposals
from api.services.container import Services
from api.services.relay import accept
from ledger.hashing import checksum_address
from ledger.offchain import text_hash as text_hash_of
from ledger.protocol.generated import Function


def submitted_args(forward: dict[str, Any], target: str, function: Function) -> tuple[Any, ...]:
    """The arguments of `function` called on `target` by a forward request; 422 `NotASubmission`
    for any other call."""
    data = bytes(HexBytes(forward["data"]))
    if checksum_address(forward["to"]) != target or data[:4] != function.selector:
        raise ApiError(422, "NotASubmission", f"the request must call {function.name} on {target}")
    types = function.signature[len(function.name) + 1 : -1].split(",")
    try:
        return tuple(abi_decode(types, data[4:]))
    except Exception as exc:  # eth-abi's decoding errors share no base worth naming
        raise ApiError(422, "NotASubmission", f"unreadable {function.name} call: {exc}") from exc


async def submit_text(
    services: Services, request: Request, text: str, forward: dict[str, Any], submitted: bytes
) -> ReceiptOut:
    """Store `text`, then relay the signed request submitting hash `submitted`: the text is on
    the service before anyone is asked to read or back it. 422 `TextMismatch` when the request
    submits another hash than keccak256 of the text."""
    hashed = "0x" + bytes(submitted).hex()
    if hashed != text_hash_of(text):
        raise ApiError(
            422, "TextMismatch", f"the request submits {hashed}, not the text's keccak256"
        )
    proposals.store_text(services, request, text)
    return await accept(services, "forward", forward)
