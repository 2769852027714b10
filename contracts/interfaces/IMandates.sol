// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IMandates
/// @notice Proxy mandates: a resident lets another resident of the same community vote for them,
/// on one council proposal, one election, or every vote of the community, until revoked.
/// @dev The rules, all enforced here or at the ballot (Council) and re-checked by the
/// audit:
/// - A resident holds at most one mandate per community at a time: appointing again replaces the
///   previous mandate ({MandateRevoked} then {MandateAppointed}).
/// - Both the resident and the proxy must be on the community's published roll when the mandate is
///   appointed; nobody may be their own proxy.
/// - Appointing and revoking are signed by the resident (EIP-712, domain ("CommonsMandates", "1",
///   chain id, this contract)) over `Mandate(uint256 communityId,address resident,address proxy,
///   uint8 scope,uint256 voteId,uint256 nonce)` and `MandateRevocation(uint256 communityId,
///   address resident,uint256 nonce)`; anyone may relay them in batches (the resident pays no gas),
///   and a message breaking a rule is skipped with a {MandateSkipped} reason. `nonce` is the
///   resident's next nonce ({nonceOf}): each counted message uses one, so a relayed message can be
///   counted once, and an old appointment cannot be replayed after its revocation.
/// - The limit: a proxy may hold at most {proxyLimit} live mandates in a community, whatever their
///   scope (default 2, set by the community's admin with {ProxyLimitSet}). What is counted at
///   appointment is every live mandate the proxy holds in the community. The ballot checks again
///   (Council, Elections): a proxy may cast at most {proxyLimit} proxy ballots on one vote. Both are
///   needed: the first tells the resident at once that their choice is over the limit; the second
///   is what keeps one vote from being gathered by one hand, since mandates can be revoked and
///   given again after the proxy used them, and the admin may lower the limit at any time.
/// - Mandates do not pass on: a proxy ballot counts only when signed by the very proxy the
///   resident appointed, so a proxy who appoints a proxy of their own delegates only their own vote.
/// - A revocation stops the proxy's ballots not yet counted; one already counted stays until the
///   resident votes themself, which always overrides it (see Council, and the proxy ballots of
///   IElections, which IElectionProxies checks against these mandates).
interface IMandates {
    // ---------------------------------------------------------------- types

    /// @notice What votes a mandate covers.
    /// @dev AllVotes: every council proposal and election of the community (voteId 0).
    /// Proposal: the council proposal `voteId`. Election: the election `voteId`.
    enum MandateScope {
        AllVotes,
        Proposal,
        Election
    }

    /// @notice Why a relayed appointment or revocation was not counted.
    enum MandateSkipReason {
        BadSignature,
        MalleableSignature,
        StaleNonce,
        ResidentNotOnRoll,
        ProxyNotOnRoll,
        SelfProxy,
        InvalidScope,
        ProxyOverLimit,
        NoMandate
    }

    /// @notice A resident's signed appointment as a relayer submits it.
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedMandate {
        uint256 communityId;
        address resident;
        address proxy;
        MandateScope scope;
        uint256 voteId;
        uint256 nonce;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A resident's signed revocation as a relayer submits it.
    struct SignedRevocation {
        uint256 communityId;
        address resident;
        uint256 nonce;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A resident's live mandate (proxy address(0): none).
    struct MandateView {
        address proxy;
        MandateScope scope;
        uint256 voteId;
    }

    // ---------------------------------------------------------------- events

    /// @notice `resident` appointed `proxy` for `scope` / `voteId` in `communityId`.
    /// @param nonce The resident's nonce the signed appointment used.
    event MandateAppointed(
        uint256 indexed communityId,
        address indexed resident,
        address indexed proxy,
        MandateScope scope,
        uint256 voteId,
        uint256 nonce
    );

    /// @notice `resident`'s mandate to `proxy` in `communityId` ended: revoked, or replaced by the
    /// {MandateAppointed} that follows in the same transaction.
    /// @param nonce The resident's nonce the signed revocation or appointment used.
    event MandateRevoked(uint256 indexed communityId, address indexed resident, address indexed proxy, uint256 nonce);

    /// @notice A relayed appointment (`isRevocation` false) or revocation was not counted, for
    /// `reason`; the rest of its batch went on. Like {ICouncil-BallotSkipped}, anyone can make this
    /// name anyone: it is not the resident's act and changes nothing.
    event MandateSkipped(
        uint256 indexed communityId, address indexed resident, bool isRevocation, MandateSkipReason reason
    );

    /// @notice The admin of `communityId` set its proxy limit.
    event ProxyLimitSet(uint256 indexed communityId, uint8 limit, address setBy);

    // ---------------------------------------------------------------- errors

    /// @notice Only the admin of `communityId` may do this; `account` is not.
    error NotCommunityAdmin(uint256 communityId, address account);

    // ---------------------------------------------------------------- actions

    /// @notice Counts many signed appointments; anyone may relay them.
    /// @dev In order, each must: carry a low-s signature by `resident`, use the resident's next
    /// nonce, name a scope with voteId 0 for AllVotes and below 2^64 and nonzero otherwise, name a
    /// proxy other than the resident, both on the community's published roll now, the proxy
    /// holding fewer than {proxyLimit} live mandates there (not counting the one this replaces).
    /// @return counted How many were counted.
    function appoint(SignedMandate[] calldata mandates) external returns (uint256 counted);

    /// @notice Counts many signed revocations; anyone may relay them. Each needs a low-s signature
    /// by `resident`, the resident's next nonce, and a live mandate to revoke.
    /// @return counted How many were counted.
    function revoke(SignedRevocation[] calldata revocations) external returns (uint256 counted);

    /// @notice Sets how many live mandates one proxy may hold in `communityId` (and how many proxy
    /// ballots one proxy may cast on one of its votes). The community's admin only; 0 turns proxy
    /// voting off. Lowering it leaves mandates already held in place; the ballot applies the new one.
    function setProxyLimit(uint256 communityId, uint8 limit) external;

    // ---------------------------------------------------------------- views

    /// @notice The proxy limit of a community that never set one.
    function DEFAULT_PROXY_LIMIT() external view returns (uint8);

    /// @notice keccak256 of the `Mandate(...)` type string above.
    function MANDATE_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the `MandateRevocation(...)` type string above.
    function REVOCATION_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls and admins this contract reads.
    function registry() external view returns (address);

    /// @notice The proxy limit of `communityId`.
    function proxyLimit(uint256 communityId) external view returns (uint8);

    /// @notice The nonce `resident`'s next appointment or revocation must carry.
    function nonceOf(address resident) external view returns (uint256);

    /// @notice `resident`'s live mandate in `communityId` (proxy address(0) if none).
    function mandateOf(uint256 communityId, address resident) external view returns (MandateView memory);

    /// @notice How many live mandates `proxy` holds in `communityId`.
    function mandatesHeld(uint256 communityId, address proxy) external view returns (uint256);

    /// @notice For each resident, the proxy whose live mandate covers the vote `scope` / `voteId`
    /// (Proposal or Election) in `communityId`, else address(0).
    function proxiesFor(uint256 communityId, MandateScope scope, uint256 voteId, address[] calldata residents)
        external
        view
        returns (address[] memory proxies);

    /// @notice The EIP-712 digest a resident signs to appoint.
    function mandateDigest(
        uint256 communityId,
        address resident,
        address proxy,
        MandateScope scope,
        uint256 voteId,
        uint256 nonce
    ) external view returns (bytes32);

    /// @notice The EIP-712 digest a resident signs to revoke.
    function revocationDigest(uint256 communityId, address resident, uint256 nonce) external view returns (bytes32);
}
