"""A member's time-bank history across key rotations: the keys a resident held in turn (each
ResidentReplaced links an old key to its replacement), the balances carried over from one to
the next (BalanceCarriedOver), and every service record of any of those keys, in chain order."""

from __future__ import annotations

from web3 import Web3

from api.errors import ApiError
from api.schemas import CarriedOverOut, MemberHistoryOut
from api.services.communities import require_community
from api.services.container import Services
from api.services.events import event_out

# A chain of replacements longer than this is not a person's phones: stop rather than loop.
MAX_KEYS = 64


def member_history(services: Services, community_id: int, account: str) -> MemberHistoryOut:
    """`account`'s balance (from the contract) and history, its predecessors' included; 422
    `InvalidAddress`."""
    require_community(services, community_id)
    if not Web3.is_address(account):
        raise ApiError(422, "InvalidAddress", f"{account} is not an address")
    address = Web3.to_checksum_address(account)
    keys = _keys_before(services, community_id, address)
    carried = [
        CarriedOverOut(
            from_account=e.args["oldAccount"],
            to_account=e.args["newAccount"],
            minutes=int(e.args["minutesMoved"]),
            block=e.block_number,
            timestamp=e.timestamp,
            tx_hash=e.tx_hash,
        )
        for e in services.index.events(
            contract="timebank",
            event="BalanceCarriedOver",
            where={"communityId": community_id},
            limit=None,
        )
        if e.args["newAccount"] in keys
    ]
    found = {}
    for key in keys:
        for side in ("provider", "recipient"):
            for e in services.index.events(
                contract="timebank",
                event=("ServiceRecorded", "ServiceReversed"),
                where={"communityId": community_id, side: key},
                limit=None,
            ):
                found[(e.block_number, e.log_index)] = e
    minutes = services.deployment.timebank.functions.balanceOf(community_id, address).call()
    return MemberHistoryOut(
        account=address,
        minutes=minutes,
        keys=keys,
        carried_over=carried,
        records=[event_out(found[k]) for k in sorted(found)],
    )


def _keys_before(services: Services, community_id: int, address: str) -> list[str]:
    """`address` and the keys it replaced, newest first."""
    replaced = {
        e.args["newAccount"]: e.args["oldAccount"]
        for e in services.index.events(
            contract="registry",
            event="ResidentReplaced",
            where={"communityId": community_id},
            limit=None,
        )
    }
    keys = [address]
    while keys[-1] in replaced and len(keys) < MAX_KEYS:
        keys.append(replaced[keys[-1]])
    return keys
