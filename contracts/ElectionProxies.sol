// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IElectionProxies} from "./interfaces/IElectionProxies.sol";
import {IElections} from "./interfaces/IElections.sol";
import {IMandates} from "./interfaces/IMandates.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title ElectionProxies
/// @notice Checks election proxy ballots (the proxy's signature, the proxy on the roll, the
/// mandate) and hands those that pass to Elections in one call, which applies the rules every
/// ballot shares and the proxy limit, and stores them like any other ballot.
/// @dev Every skip this contract finds is emitted before the one call into Elections.
contract ElectionProxies is IElectionProxies, EIP712 {
    /// @inheritdoc IElectionProxies
    bytes32 public constant ELECTION_PROXY_BALLOT_TYPEHASH =
        keccak256("ElectionProxyBallot(uint256 electionId,address voter,address proxy,uint64 choices)");

    IElections private immutable _elections;
    IRegistry private immutable _registry;
    IMandates private immutable _mandates;

    /// @notice Wires the proxy ballots to their Elections, Registry and Mandates.
    /// @param elections_ The Elections that takes the checked ballots.
    /// @param registry_ The Registry whose rolls the proxies are checked on.
    /// @param mandates_ The Mandates whose live mandates a proxy ballot needs.
    constructor(address elections_, address registry_, address mandates_) EIP712("CommonsElectionProxies", "1") {
        _elections = IElections(elections_);
        _registry = IRegistry(registry_);
        _mandates = IMandates(mandates_);
    }

    /// @inheritdoc IElectionProxies
    function castElectionProxyBallots(uint256 electionId, SignedElectionProxyBallot[] calldata ballots)
        external
        returns (uint256 counted)
    {
        IElections.ElectionView memory election = _elections.getElection(electionId);
        uint256 n = ballots.length;
        if (election.state != IElections.ElectionState.Open) {
            for (uint256 i; i < n; ++i) {
                _skip(electionId, ballots[i], IElections.ElectionProxySkipReason.ElectionNotOpen);
            }
            return 0;
        }
        (uint256[] memory proxyIndexes, address[] memory mandated) = _batch(electionId, election, ballots);
        IElections.SignedElectionBallot[] memory passed = new IElections.SignedElectionBallot[](n);
        address[] memory proxies = new address[](n);
        uint256 kept;
        for (uint256 i; i < n; ++i) {
            SignedElectionProxyBallot calldata b = ballots[i];
            (bool ok, IElections.ElectionProxySkipReason reason) =
                _proxyFault(electionId, b, proxyIndexes[i], mandated[i]);
            if (!ok) {
                _skip(electionId, b, reason);
                continue;
            }
            passed[kept] = IElections.SignedElectionBallot(b.voter, b.choices, 0, 0);
            proxies[kept] = b.proxy;
            ++kept;
        }
        if (kept == 0) return 0;
        assembly ("memory-safe") {
            mstore(passed, kept)
            mstore(proxies, kept)
        }
        return _elections.castMandatedBallots(electionId, passed, proxies, _mandates.proxyLimit(election.communityId));
    }

    /// @inheritdoc IElectionProxies
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IElectionProxies
    function elections() external view returns (IElections) {
        return _elections;
    }

    /// @inheritdoc IElectionProxies
    function mandates() external view returns (address) {
        return address(_mandates);
    }

    /// @inheritdoc IElectionProxies
    function proxyBallotDigest(uint256 electionId, address voter, address proxy, uint64 choices)
        external
        view
        returns (bytes32)
    {
        return _digest(electionId, voter, proxy, choices);
    }

    /// @dev What a batch reads once: the proxies' roll indexes at the snapshot and each voter's
    /// proxy covering this election.
    function _batch(
        uint256 electionId,
        IElections.ElectionView memory election,
        SignedElectionProxyBallot[] calldata ballots
    ) private view returns (uint256[] memory proxyIndexes, address[] memory mandated) {
        uint256 n = ballots.length;
        address[] memory voters = new address[](n);
        address[] memory proxies = new address[](n);
        for (uint256 i; i < n; ++i) {
            voters[i] = ballots[i].voter;
            proxies[i] = ballots[i].proxy;
        }
        proxyIndexes = _registry.rollIndexesAt(election.communityId, election.rollVersion, proxies);
        mandated = _mandates.proxiesFor(election.communityId, IMandates.MandateScope.Election, electionId, voters);
    }

    /// @dev The first of this contract's rules `b` breaks (see IElectionProxies), in order.
    function _proxyFault(
        uint256 electionId,
        SignedElectionProxyBallot calldata b,
        uint256 proxyIndexPlusOne,
        address mandated
    ) private view returns (bool, IElections.ElectionProxySkipReason) {
        bytes32 s = b.vs & bytes32(uint256(type(uint256).max >> 1));
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (uint256(s) > HALF_N) return (false, IElections.ElectionProxySkipReason.MalleableSignature);
        uint8 v = uint8((uint256(b.vs) >> 255) + 27);
        address signer = ecrecover(_digest(electionId, b.voter, b.proxy, b.choices), v, b.r, s);
        if (signer == address(0) || signer != b.proxy) return (false, IElections.ElectionProxySkipReason.BadSignature);
        if (proxyIndexPlusOne == 0) return (false, IElections.ElectionProxySkipReason.ProxyNotOnRoll);
        if (mandated != b.proxy) return (false, IElections.ElectionProxySkipReason.NoMandate);
        return (true, IElections.ElectionProxySkipReason.ElectionNotOpen);
    }

    function _skip(
        uint256 electionId,
        SignedElectionProxyBallot calldata b,
        IElections.ElectionProxySkipReason reason
    ) private {
        emit IElections.ElectionProxyBallotSkipped(electionId, b.voter, b.proxy, reason);
    }

    function _digest(uint256 electionId, address voter, address proxy, uint64 choices) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(ELECTION_PROXY_BALLOT_TYPEHASH, electionId, voter, proxy, choices))
        );
    }
}
