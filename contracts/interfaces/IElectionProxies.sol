// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IElections} from "./IElections.sol";

/// @title IElectionProxies
/// @notice Proxy ballots in elections: a resident's proxy (see IMandates) casts the resident's
/// ranked or approval ballot, and the resident's own ballot always overrides it, before or after.
/// @dev A proxy signs `ElectionProxyBallot(uint256 electionId,address voter,address proxy,
/// uint64 choices)` under the domain ("CommonsElectionProxies", "1", chain id, this contract);
/// anyone relays such ballots in batches, and one that breaks a rule is skipped with an
/// IElections.ElectionProxyBallotSkipped reason. The rules, checked in this order:
/// - the election is open (an unknown election reverts with IElections' UnknownElection);
/// - a low-s signature by `proxy`;
/// - `proxy` is on the community's roll at the election's snapshot;
/// - `voter`'s live mandate (IMandates.proxiesFor, scope Election with this election's id, or
///   AllVotes) names `proxy`: mandates do not pass on, so a proxy's own proxy is not the voter's;
/// - then Elections' rules ({IElections-castMandatedBallots}): the encoding, `voter` on the roll at
///   the snapshot, no ballot of `voter` counted yet, the community's proxy limit.
/// Why a contract of its own: Elections keeps what every channel shares (the ballot box, the
/// stored ballots, the count) and takes checked proxy ballots through one hook, as it takes
/// in-person ballots from the PollOffice; the mandate and the proxy's signature are checked
/// here, so neither Elections' size (EIP-170) nor its relayed-ballot loop grows with them. This
/// contract holds no state: what a later ballot depends on is in Elections and Mandates.
interface IElectionProxies {
    /// @notice A proxy's signed election ballot for a resident, as a relayer submits it.
    /// @param voter The resident the ballot counts for.
    /// @param proxy The resident's proxy, who signed.
    /// @param choices The ballot, encoded as IElections says.
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedElectionProxyBallot {
        address voter;
        address proxy;
        uint64 choices;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Counts many proxy ballots on one election; anyone may relay them.
    /// @return counted How many were counted (each emits IElections' ElectionProxyBallotCast).
    function castElectionProxyBallots(uint256 electionId, SignedElectionProxyBallot[] calldata ballots)
        external
        returns (uint256 counted);

    /// @notice keccak256 of the `ElectionProxyBallot(...)` type string above.
    function ELECTION_PROXY_BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Elections whose ballot box the proxy ballots go into.
    function elections() external view returns (IElections);

    /// @notice The Mandates contract proxy ballots are checked against.
    function mandates() external view returns (address);

    /// @notice The EIP-712 digest a proxy signs for this ballot.
    function proxyBallotDigest(uint256 electionId, address voter, address proxy, uint64 choices)
        external
        view
        returns (bytes32);
}
