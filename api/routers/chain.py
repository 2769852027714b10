"""Chain status: head, deployment, build manifest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import ChainOut, ContractOut, HealthOut, IndexHealthOut
from ledger.build import load_manifest

router = APIRouter(prefix="/chain", tags=["chain"])
health_router = APIRouter(tags=["chain"])


@health_router.get(
    "/health",
    response_model=HealthOut,
    responses=responses(503),
    summary="Liveness and chain reachability",
)
def health(services: ServicesDep) -> HealthOut:
    problem = services.index.inconsistency()
    return HealthOut(
        ok=True,
        head=services.w3.eth.block_number,
        # The index is checked against the chain's logs by the relay worker; while it disagrees
        # the reads it serves answer 503 IndexInconsistent until it is rebuilt.
        index=IndexHealthOut(consistent=problem is None, problem=problem),
    )


@router.get("", response_model=ChainOut, responses=responses(503))
def chain_status(services: ServicesDep) -> ChainOut:
    d = services.deployment
    head = services.w3.eth.get_block("latest")
    return ChainOut(
        chain_id=d.chain_id,
        head=head["number"],
        head_timestamp=head["timestamp"],
        indexed_head=services.index.head(),
        deployment_block=d.start_block,
        contracts={k: c.address for k, c in d.contracts.items()},
        build_manifest_hash=d.record["build_manifest_hash"],
        relay=services.outbox.counts(),
    )


@router.get("/deployment", responses=responses(503))
def deployment(services: ServicesDep) -> dict[str, Any]:
    """The deployment record (addresses, blocks, tx hashes, build manifest hash)."""
    return services.deployment.record


@router.get("/manifest", responses=responses(503))
def manifest(services: ServicesDep) -> dict[str, Any]:
    """The build manifest: compiler, settings, source and runtime-bytecode hashes."""
    return load_manifest(services.settings)


@router.get("/contracts", response_model=dict[str, ContractOut], responses=responses(503))
def contracts(services: ServicesDep) -> dict[str, ContractOut]:
    """Each deployed contract's address and ABI, so a browser or wallet can build and sign
    calls (EIP-712 forward requests, ballots) itself."""
    return {
        key: ContractOut(address=c.address, abi=[dict(item) for item in c.abi])
        for key, c in services.deployment.contracts.items()
    }
