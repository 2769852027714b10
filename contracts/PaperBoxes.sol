// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IElections} from "./interfaces/IElections.sol";
import {IPaperBoxes} from "./interfaces/IPaperBoxes.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title PaperBoxes
/// @notice Paper ballot boxes of elections: declared by the committee, their totals co-signed by
/// two poll officers and handed to Elections as weighted entries.
/// @dev Part of the PollOffice (the one contract Elections trusts to hand in ballots without a
/// voter's signature), kept in its own file as its own concept; the PollOffice supplies the
/// EIP-712 domain.
abstract contract PaperBoxes is IPaperBoxes, EIP712, ERC2771Context {
    /// @inheritdoc IPaperBoxes
    bytes32 public constant BOX_TOTALS_TYPEHASH = keccak256(
        "BoxTotals(uint256 boxId,uint64[] choices,uint32[] counts,bytes32 certificateHash,address officer)"
    );
    /// @inheritdoc IPaperBoxes
    uint32 public constant MAX_BOX_VOTERS = 2000;

    bytes32 private constant COMMITTEE = keccak256("COMMITTEE");
    bytes32 internal constant POLL_OFFICER = keccak256("POLL_OFFICER");

    struct Box {
        // word 0
        uint64 electionId;
        uint32 assigned;
        uint32 ballots;
        bool counted;
        // words 1-3
        bytes32 labelHash;
        bytes32 votersHash;
        bytes32 totalsHash;
    }

    IRegistry internal immutable _registry;
    IElections internal immutable _elections;
    uint256 private _boxCount;
    mapping(uint256 boxId => Box) private _paperBoxes;
    /// @dev The first officer who signed each totals of a box: a second, different one counts them.
    mapping(uint256 boxId => mapping(bytes32 totals => address)) private _firstSigners;

    /// @dev A committee member declares a box through the forwarder like every committee act
    /// (gasless), or directly.
    constructor(address trustedForwarder, address registry_, address elections_) ERC2771Context(trustedForwarder) {
        _registry = IRegistry(registry_);
        _elections = IElections(elections_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IPaperBoxes
    function declareBox(uint256 electionId, bytes32 labelHash, address[] calldata voters)
        external
        returns (uint256 boxId)
    {
        uint256 communityId = _elections.getElection(electionId).communityId;
        address committee = _msgSender();
        if (!_registry.hasRole(communityId, COMMITTEE, committee)) revert IElections.NotCommittee(communityId, committee);
        if (voters.length == 0 || voters.length > MAX_BOX_VOTERS) revert InvalidBoxSize(voters.length);
        boxId = ++_boxCount;
        Box storage box = _paperBoxes[boxId];
        // Election ids are sequential from 1: far below 2^64.
        box.electionId = uint64(electionId);
        box.assigned = uint32(voters.length);
        box.labelHash = labelHash;
        box.votersHash = keccak256(abi.encodePacked(voters));
        emit PaperBoxDeclared(boxId, electionId, committee, labelHash, voters);
        // Elections refuses a late box, a resident off the roll or in a box already: all revert.
        _elections.assignPaperVoters(electionId, voters);
    }

    /// @inheritdoc IPaperBoxes
    function signBoxTotals(uint256 boxId, SignedBoxTotals[] calldata signed) external returns (bool counted) {
        Box storage box = _paperBoxes[boxId];
        IElections.ElectionView memory election = _electionOf(box);
        uint256 counting = 0;
        for (uint256 i; i < signed.length; ++i) {
            SignedBoxTotals calldata t = signed[i];
            bytes32 totals = _totalsHash(boxId, t.choices, t.counts, t.certificateHash);
            (bool refused, PaperBoxSkipReason reason) = _check(boxId, box, election, t, totals);
            if (refused) {
                emit BoxTotalsRefused(boxId, t.officer, reason);
                continue;
            }
            emit BoxTotalsSigned(boxId, t.officer, totals);
            if (_firstSigners[boxId][totals] == address(0)) {
                _firstSigners[boxId][totals] = t.officer;
                continue;
            }
            _recordCounted(boxId, box, t, totals);
            counted = true;
            counting = i;
        }
        // Handed to Elections once every signature of the batch is judged and recorded.
        if (counted) {
            SignedBoxTotals calldata t = signed[counting];
            _elections.castPaperBallots(box.electionId, boxId, t.choices, t.counts);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPaperBoxes
    function boxCount() external view returns (uint256) {
        return _boxCount;
    }

    /// @inheritdoc IPaperBoxes
    function getBox(uint256 boxId) external view returns (PaperBox memory view_) {
        Box storage box = _paperBoxes[boxId];
        view_.electionId = box.electionId;
        view_.labelHash = box.labelHash;
        view_.assigned = box.assigned;
        view_.votersHash = box.votersHash;
        view_.totalsHash = box.totalsHash;
        view_.ballots = box.ballots;
    }

    /// @inheritdoc IPaperBoxes
    function totalsSigner(uint256 boxId, bytes32 totals) external view returns (address) {
        return _firstSigners[boxId][totals];
    }

    /// @inheritdoc IPaperBoxes
    function totalsHash(uint256 boxId, uint64[] calldata choices, uint32[] calldata counts, bytes32 certificateHash)
        external
        pure
        returns (bytes32)
    {
        return _totalsHash(boxId, choices, counts, certificateHash);
    }

    /// @inheritdoc IPaperBoxes
    function boxTotalsDigest(
        uint256 boxId,
        uint64[] calldata choices,
        uint32[] calldata counts,
        bytes32 certificateHash,
        address officer
    ) external view returns (bytes32) {
        return _boxDigest(boxId, choices, counts, certificateHash, officer);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Whether these signed totals are refused, and why (IPaperBoxes gives the order).
    function _check(
        uint256 boxId,
        Box storage box,
        IElections.ElectionView memory election,
        SignedBoxTotals calldata t,
        bytes32 totals
    ) private view returns (bool, PaperBoxSkipReason) {
        if (box.electionId == 0) return (true, PaperBoxSkipReason.BoxNotFound);
        if (box.counted) return (true, PaperBoxSkipReason.BoxAlreadyCounted);
        if (election.state != IElections.ElectionState.Open) return (true, PaperBoxSkipReason.VotingNotOpen);
        uint256 s = uint256(t.vs) & ((1 << 255) - 1);
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (s > HALF_N) return (true, PaperBoxSkipReason.MalleableOfficerSignature);
        bytes32 digest = _boxDigest(boxId, t.choices, t.counts, t.certificateHash, t.officer);
        address recovered = ecrecover(digest, uint8(uint256(t.vs) >> 255) + 27, t.r, bytes32(s));
        if (recovered == address(0) || recovered != t.officer) return (true, PaperBoxSkipReason.BadOfficerSignature);
        if (!_registry.hasRole(election.communityId, POLL_OFFICER, t.officer)) {
            return (true, PaperBoxSkipReason.NotPollOfficer);
        }
        (bool empty, bool bad, uint256 ballots) = _judgeEntries(election, t.choices, t.counts);
        if (empty) return (true, PaperBoxSkipReason.EmptyTotals);
        if (bad) return (true, PaperBoxSkipReason.BadPattern);
        if (ballots > box.assigned) return (true, PaperBoxSkipReason.OverAssigned);
        if (_firstSigners[boxId][totals] == t.officer) return (true, PaperBoxSkipReason.SameOfficerTwice);
        return (false, PaperBoxSkipReason.BoxNotFound);
    }

    /// @dev Whether the entries are empty (none, a zero count, lengths apart) or hold a pattern
    /// IElections would skip, and how many ballots they hold.
    function _judgeEntries(IElections.ElectionView memory election, uint64[] calldata choices, uint32[] calldata counts)
        private
        pure
        returns (bool empty, bool bad, uint256 ballots)
    {
        uint256 n = choices.length;
        if (n == 0 || n != counts.length) return (true, false, 0);
        uint256 candidates = election.candidates.length;
        for (uint256 i; i < n; ++i) {
            if (counts[i] == 0) return (true, false, 0);
            ballots += counts[i];
            bool valid = election.kind == IElections.ElectionKind.Ranked
                ? _validRanking(choices[i], candidates, election.maxChoices)
                : _validApproval(choices[i], candidates, election.maxChoices);
            if (!valid) bad = true;
        }
    }

    /// @dev IElections' ranking rule: distinct candidates below the count, padded by repeating
    /// the last, at most maxChoices of them.
    function _validRanking(uint64 choices, uint256 candidates, uint256 maxChoices) private pure returns (bool) {
        uint256 prev = choices & 15;
        if (prev >= candidates) return false;
        uint256 seen = 1 << prev;
        uint256 length = 1;
        uint256 k = 1;
        for (; k < 16; ++k) {
            uint256 candidate = (choices >> (4 * k)) & 15;
            if (candidate == prev) break;
            if (candidate >= candidates || seen & (1 << candidate) != 0) return false;
            seen |= 1 << candidate;
            prev = candidate;
            ++length;
        }
        for (; k < 16; ++k) {
            if ((choices >> (4 * k)) & 15 != prev) return false;
        }
        return length <= maxChoices;
    }

    /// @dev IElections' approval rule: nonzero, below the candidate count, at most maxChoices set.
    function _validApproval(uint64 choices, uint256 candidates, uint256 maxChoices) private pure returns (bool) {
        if (choices == 0 || choices >> candidates != 0) return false;
        uint256 set = 0;
        for (uint64 rest = choices; rest != 0; rest &= rest - 1) {
            ++set;
        }
        return set <= maxChoices;
    }

    /// @dev The box's election as it stands (an unknown box: an empty view, never read).
    function _electionOf(Box storage box) private view returns (IElections.ElectionView memory election) {
        if (box.electionId != 0) return _elections.getElection(box.electionId);
        return election;
    }

    function _recordCounted(uint256 boxId, Box storage box, SignedBoxTotals calldata t, bytes32 totals) private {
        uint256 ballots = 0;
        for (uint256 i; i < t.counts.length; ++i) {
            ballots += t.counts[i];
        }
        box.counted = true;
        box.totalsHash = totals;
        // At most the box's assigned residents (< 2^32), checked before.
        box.ballots = uint32(ballots);
        emit BoxTotalsCounted(boxId, box.electionId, totals, ballots);
    }

    function _totalsHash(uint256 boxId, uint64[] calldata choices, uint32[] calldata counts, bytes32 certificateHash)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                boxId, keccak256(abi.encodePacked(choices)), keccak256(abi.encodePacked(counts)), certificateHash
            )
        );
    }

    function _boxDigest(
        uint256 boxId,
        uint64[] calldata choices,
        uint32[] calldata counts,
        bytes32 certificateHash,
        address officer
    ) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    BOX_TOTALS_TYPEHASH,
                    boxId,
                    keccak256(abi.encodePacked(choices)),
                    keccak256(abi.encodePacked(counts)),
                    certificateHash,
                    officer
                )
            )
        );
    }
}
