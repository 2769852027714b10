// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {PaperBoxes} from "./PaperBoxes.sol";
import {IElections} from "./interfaces/IElections.sol";
import {IPollOffice} from "./interfaces/IPollOffice.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title PollOffice
/// @notice Poll officers' in-person ballots for Commons Ledger elections.
/// @dev Apart from Elections (14 KB of the 24 KB EIP-170 limit) so that officers, in-person
/// ballots and paper boxes grow here; Elections trusts this contract, an immutable of its
/// constructor, for one thing only: a ballot it hands in needs no voter's signature. Everything
/// else (window, encoding, roll, one ballot per resident across channels) stays in Elections'
/// one ballot loop, so the count cannot tell the channels apart. Paper boxes (PaperBoxes) are
/// the office's second duty, under the same domain and the same trust.
contract PollOffice is IPollOffice, PaperBoxes {
    /// @inheritdoc IPollOffice
    bytes32 public constant IN_PERSON_BALLOT_TYPEHASH =
        keccak256("InPersonBallot(uint256 electionId,address voter,uint64 choices,address officer)");

    /// @notice Wires the office to the forwarder its committee acts through, the Registry
    /// holding the officers and the Elections it serves.
    constructor(address trustedForwarder, address registry_, address elections_)
        EIP712("CommonsPollOffice", "1")
        PaperBoxes(trustedForwarder, registry_, elections_)
    {}

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IPollOffice
    function castInPersonBallots(uint256 electionId, InPersonBallot[] calldata ballots)
        external
        returns (uint256 counted)
    {
        uint256 communityId = _elections.getElection(electionId).communityId;
        uint256 n = ballots.length;
        IElections.SignedElectionBallot[] memory vouched = new IElections.SignedElectionBallot[](n);
        uint256 kept;
        for (uint256 i; i < n; ++i) {
            InPersonBallot calldata b = ballots[i];
            (bool refused, PollSkipReason reason) = _check(electionId, communityId, b);
            if (refused) {
                emit InPersonBallotRefused(electionId, b.voter, b.officer, reason);
                continue;
            }
            vouched[kept] = IElections.SignedElectionBallot(b.voter, b.choices, bytes32(0), bytes32(0));
            ++kept;
            emit InPersonBallotVouched(electionId, b.voter, b.officer);
        }
        if (kept == 0) return 0;
        assembly ("memory-safe") {
            mstore(vouched, kept)
        }
        return _elections.castInPersonBallots(electionId, vouched);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPollOffice
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IPollOffice
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IPollOffice
    function elections() external view returns (address) {
        return address(_elections);
    }

    /// @inheritdoc IPollOffice
    function inPersonDigest(uint256 electionId, address voter, uint64 choices, address officer)
        external
        view
        returns (bytes32)
    {
        return _digest(electionId, voter, choices, officer);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Whether the officer's signature or role refuses the ballot, and why.
    function _check(uint256 electionId, uint256 communityId, InPersonBallot calldata b)
        private
        view
        returns (bool refused, PollSkipReason reason)
    {
        bytes32 digest = _digest(electionId, b.voter, b.choices, b.officer);
        uint256 s = uint256(b.vs) & ((1 << 255) - 1);
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (s > HALF_N) return (true, PollSkipReason.MalleableOfficerSignature);
        uint8 v = uint8(uint256(b.vs) >> 255) + 27;
        address recovered = ecrecover(digest, v, b.r, bytes32(s));
        if (recovered == address(0) || recovered != b.officer) return (true, PollSkipReason.BadOfficerSignature);
        if (!_registry.hasRole(communityId, POLL_OFFICER, b.officer)) return (true, PollSkipReason.NotPollOfficer);
        return (false, reason);
    }

    function _digest(uint256 electionId, address voter, uint64 choices, address officer)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(IN_PERSON_BALLOT_TYPEHASH, electionId, voter, choices, officer)));
    }
}
