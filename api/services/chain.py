"""What the chain, the index and the relay look like from here: health, status, the deployment
and the contracts' ABIs."""

from __future__ import annotations

from api.schemas import ChainOut, ContractOut, HealthOut, IndexHealthOut
from api.services.container import Services


def health(services: Services) -> HealthOut:
    problem = services.index.inconsistency()
    return HealthOut(
        ok=True,
        head=services.w3.eth.block_number,
        # The index is checked against the chain's logs by the relay worker; while it disagrees
        # the reads it serves answer 503 IndexInconsistent until it is rebuilt.
        index=IndexHealthOut(consistent=problem is None, problem=problem),
    )


def status(services: Services) -> ChainOut:
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


def contracts(services: Services) -> dict[str, ContractOut]:
    return {
        key: ContractOut(address=c.address, abi=[dict(item) for item in c.abi])
        for key, c in services.deployment.contracts.items()
    }
