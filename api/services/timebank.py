"""The time bank: services logged by their provider and confirmed by the other side (the inbox),
and balances replayed from the index or read from the contract."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from api.errors import ApiError, QuotaExceeded
from api.schemas import BalanceOut, EventOut, Page, PendingServiceOut, ReceiptOut
from api.services.communities import require_community
from api.services.container import Services
from api.services.events import event_page
from api.services.relay import accept
from ledger.errors import InvalidMessage
from ledger.signing.eip712 import recover_typed_data
from ledger.signing.services import SERVICE_TYPES, record_id

# A full inbox clears only as its records are confirmed: ask again after this long.
INBOX_RETRY_S = 60.0


def log_service(services: Services, body: dict[str, Any], user: str) -> PendingServiceOut:
    """Keep the provider's signed half for the other side to confirm: only the provider, signed
    in, logs their own service (403 `NotProvider`), and the inbox is bounded (`check_inbox`)."""
    if user.lower() != body["record"]["provider"].lower():
        raise ApiError(403, "NotProvider", f"signed in as {user}, not as the provider")
    kind = services.service_kind
    # The record's parser wants both halves: the provider's stands in for the missing one.
    community, signed, provider_sig, _ = kind.read({**body, "recipientSig": body["providerSig"]})
    message = signed.record.message(community)
    try:
        signer = recover_typed_data(
            provider_sig, kind.domain, SERVICE_TYPES, "ServiceRecord", message
        )
    except ValueError as exc:
        raise InvalidMessage("BadSignature", str(exc)) from exc
    if signer != signed.record.provider:
        raise InvalidMessage("WrongSigner", f"provider side signed by {signer}")
    check_not_replaced(services, community, signed.record.provider)
    rid = "0x" + record_id(community, signed.record).hex()
    check_inbox(services, signed.record.provider, signed.record.recipient)
    # Stored checksummed, as the per-provider count looks it up.
    stored = {**body, "record": {**body["record"], "provider": signed.record.provider}}
    services.store.put_pending(rid, community, signed.record.recipient, stored)
    pending = services.store.get_pending(rid)
    assert pending is not None
    return PendingServiceOut(id=rid, **pending[0], created_at=pending[1])


def check_not_replaced(services: Services, community: int, provider: str) -> None:
    """403 `KeyRetired` for a key a registrar replaced (a lost phone): said now, not when the
    other side confirms and the contract refuses it."""
    registry = services.deployment.registry.functions
    replacement = registry.newKeyOf(community, provider).call()
    if int(replacement, 16):
        raise ApiError(
            403, "KeyRetired", f"{provider} was replaced by {replacement}: sign with the new key"
        )


def check_inbox(services: Services, provider: str, recipient: str) -> None:
    """429 `TooManyPending` when the provider or the recipient has too many unconfirmed."""
    by_provider, by_recipient = services.store.pending_counts(provider, recipient)
    limits = services.settings
    if by_provider >= limits.max_pending_per_provider:
        detail = f"{provider} has {by_provider} services waiting to be confirmed"
    elif by_recipient >= limits.max_pending_per_recipient:
        detail = f"{recipient} has {by_recipient} services waiting to confirm"
    else:
        return
    raise QuotaExceeded("TooManyPending", f"{detail}: the limit", INBOX_RETRY_S)


def pending_for(
    services: Services, recipient: str, limit: int, offset: int
) -> Page[PendingServiceOut]:
    rows, total = services.store.pending_for(Web3.to_checksum_address(recipient), limit, offset)
    items = [PendingServiceOut(id=rid, **body, created_at=at) for rid, body, at in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def confirm(services: Services, record_id_: str, recipient_sig: str) -> ReceiptOut:
    """Relay a logged service with the other side's signature; 404 `UnknownRecord`."""
    pending = services.store.get_pending(record_id_)
    if pending is None:
        raise ApiError(404, "UnknownRecord", f"no logged service {record_id_}")
    receipt = await accept(services, "service", {**pending[0], "recipientSig": recipient_sig})
    services.store.mark_confirmed(record_id_.lower())
    return receipt


def balances(services: Services, community_id: int, limit: int, offset: int) -> Page[BalanceOut]:
    """Every member's minutes (and the community account's), replayed from the time bank's
    events; they always sum to zero."""
    require_community(services, community_id)
    totals: dict[str, int] = {}
    for e in services.index.events(
        contract="timebank",
        event=("ServiceRecorded", "ServiceReversed", "BalanceCarriedOver"),
        where={"communityId": community_id},
        limit=None,
    ):
        if e.event == "BalanceCarriedOver":  # a replaced key's balance, moved to its new key
            moved = int(e.args["minutesMoved"])
            totals[e.args["oldAccount"]] = totals.get(e.args["oldAccount"], 0) - moved
            totals[e.args["newAccount"]] = totals.get(e.args["newAccount"], 0) + moved
            continue
        minutes = int(e.args["minutesServed"])
        sign = 1 if e.event == "ServiceRecorded" else -1
        totals[e.args["provider"]] = totals.get(e.args["provider"], 0) + sign * minutes
        totals[e.args["recipient"]] = totals.get(e.args["recipient"], 0) - sign * minutes
    rows = sorted(totals.items())
    items = [BalanceOut(account=a, minutes=m) for a, m in rows[offset : offset + limit]]
    return Page(items=items, total=len(rows), limit=limit, offset=offset)


def balance(services: Services, community_id: int, account: str) -> BalanceOut:
    """One account's balance, read from the contract; 422 `InvalidAddress`."""
    require_community(services, community_id)
    if not Web3.is_address(account):
        raise ApiError(422, "InvalidAddress", f"{account} is not an address")
    address = Web3.to_checksum_address(account)
    minutes = services.deployment.timebank.functions.balanceOf(community_id, address).call()
    return BalanceOut(account=address, minutes=minutes)


def records(services: Services, community_id: int, limit: int, offset: int) -> Page[EventOut]:
    """Recorded and reversed services, in chain order."""
    require_community(services, community_id)
    names = ("ServiceRecorded", "ServiceReversed")
    return event_page(services, "timebank", names, {"communityId": community_id}, limit, offset)
