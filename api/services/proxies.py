"""Reading proxy mandates from the chain: who holds a resident's mandate, whose a proxy holds,
and how many of a proposal's ballots were cast by proxy."""

from __future__ import annotations

from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from api.errors import ApiError
from api.proxy_schemas import HeldMandateOut, HeldOut, MandateOut, ProxyCountOut
from api.services.container import Services
from ledger.node import rpc
from ledger.protocol.generated import Events, MandateScope

ZERO = "0x" + "00" * 20


def mandate_of(services: Services, community_id: int, resident: str) -> MandateOut:
    fns = services.deployment.mandates.functions
    resident = Web3.to_checksum_address(resident)
    view = fns.mandateOf(community_id, resident).call()
    held = view.proxy != ZERO
    registry = services.deployment.registry.functions
    replaced = registry.newKeyOf(community_id, view.proxy).call() if held else ZERO
    return MandateOut(
        community_id=community_id,
        resident=resident,
        proxy=view.proxy if held else None,
        proxy_replaced_by=replaced if replaced != ZERO else None,
        scope=MandateScope(view.scope).name if held else None,  # type: ignore[arg-type]
        vote_id=view.voteId if held else None,
        nonce=fns.nonceOf(resident).call(),
        limit=fns.proxyLimit(community_id).call(),
    )


def held_by(services: Services, community_id: int, proxy: str) -> HeldOut:
    """The residents who ever appointed `proxy` (by the indexed events), kept where their live
    mandate still names it."""
    mandates = services.deployment.mandates
    proxy = Web3.to_checksum_address(proxy)
    topics = [
        "0x" + Events.MandateAppointed.topic.hex(),
        "0x" + community_id.to_bytes(32, "big").hex(),
        None,
        "0x" + "00" * 12 + proxy[2:].lower(),
    ]
    query = {"address": mandates.address, "fromBlock": "0x0", "toBlock": "latest", "topics": topics}
    logs = rpc(services.w3, "eth_getLogs", [query])
    residents = dict.fromkeys(
        Web3.to_checksum_address("0x" + log["topics"][2][-40:]) for log in logs
    )
    held = []
    for resident in residents:
        view = mandates.functions.mandateOf(community_id, resident).call()
        if view.proxy == proxy:
            scope = MandateScope(view.scope).name
            held.append(HeldMandateOut(resident=resident, scope=scope, vote_id=view.voteId))  # type: ignore[arg-type]
    limit = mandates.functions.proxyLimit(community_id).call()
    return HeldOut(community_id=community_id, proxy=proxy, mandates=held, limit=limit)


def proxy_count(services: Services, proposal_id: int) -> ProxyCountOut:
    council = services.deployment.council.functions
    try:
        count = council.proxyBallotCount(proposal_id).call()
        tally = council.tallyOf(proposal_id).call()
    except (ContractCustomError, ContractLogicError) as exc:
        raise ApiError(404, "UnknownProposal", f"no proposal {proposal_id}") from exc
    return ProxyCountOut(proposal_id=proposal_id, by_proxy=count, tally=list(tally))
