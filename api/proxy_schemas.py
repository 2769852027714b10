"""Request and response bodies of the proxy routes (api/routers/proxies.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.schemas import Address, CamelOut, Signature65, Strict


class MandateIn(Strict):
    """A resident's signed appointment (`act` "appoint": EIP-712 Mandate(uint256 communityId,
    address resident,address proxy,uint8 scope,uint256 voteId,uint256 nonce)) or revocation
    ("revoke": MandateRevocation(uint256 communityId,address resident,uint256 nonce)) under
    ("CommonsMandates", "1", chainId, mandates address). `scope`: 0 every vote (voteId 0),
    1 one council proposal, 2 one election; `nonce`: the resident's next (GET
    /v1/communities/{id}/mandates/{address})."""

    act: Literal["appoint", "revoke"]
    communityId: Annotated[int, Field(ge=1, lt=2**256)]
    resident: Address
    proxy: Address | None = None
    scope: Annotated[int, Field(ge=0, le=2)] | None = None
    voteId: Annotated[int, Field(ge=0, lt=2**64)] | None = None
    nonce: Annotated[int, Field(ge=0, lt=2**256)]
    signature: Signature65


class ProxyBallotIn(Strict):
    """A proxy's EIP-712 ballot for a resident: ProxyBallot(uint256 proposalId,address voter,
    address proxy,uint8 option) under the council's ballot domain, signed by `proxy`."""

    proposalId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    proxy: Address
    option: Annotated[int, Field(ge=0, lt=256)]
    signature: Signature65


class ElectionProxyBallotIn(Strict):
    """A proxy's EIP-712 election ballot for a resident: ElectionProxyBallot(uint256 electionId,
    address voter,address proxy,uint64 choices) under the domain ("CommonsElectionProxies", "1",
    chainId, election proxies address), signed by `proxy`; `choices` encoded as an election
    ballot's (docs/elections.md)."""

    electionId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    proxy: Address
    choices: Annotated[int, Field(ge=0, lt=2**64)]
    signature: Signature65


class MandateOut(CamelOut):
    """Who holds a resident's mandate in a community, read from the chain."""

    community_id: int
    resident: str
    proxy: str | None = Field(description="the proxy; null when the resident has appointed none")
    proxy_replaced_by: str | None = Field(
        description="the key a registrar replaced the proxy's with (a lost phone): the mandate "
        "names a retired key, which can cast nothing, so the resident appoints this one; null "
        "when the proxy's key is current (or there is no proxy)"
    )
    scope: Literal["AllVotes", "Proposal", "Election"] | None
    vote_id: int | None
    nonce: int = Field(description="the nonce the resident's next appointment or revocation uses")
    limit: int = Field(description="the community's proxy limit")


class HeldMandateOut(CamelOut):
    resident: str
    scope: Literal["AllVotes", "Proposal", "Election"]
    vote_id: int


class HeldOut(CamelOut):
    """The residents whose live mandates a proxy holds in a community."""

    community_id: int
    proxy: str
    mandates: list[HeldMandateOut]
    limit: int


class ProxyCountOut(CamelOut):
    """How many of a proposal's counted ballots were cast by proxy (overridden ones not)."""

    proposal_id: int
    by_proxy: int
    tally: list[int]
