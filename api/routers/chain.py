"""Chain status: head, deployment, build manifest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import responses
from api.schemas import ChainOut, ContractOut, HealthOut
from api.services import chain
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
    return chain.health(services)


@router.get("", response_model=ChainOut, responses=responses(503))
def chain_status(services: ServicesDep) -> ChainOut:
    return chain.status(services)


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
    return chain.contracts(services)
