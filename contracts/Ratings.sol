// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ICouncil} from "./interfaces/ICouncil.sol";
import {IParticipatoryBudget} from "./interfaces/IParticipatoryBudget.sol";
import {IRatings} from "./interfaces/IRatings.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title Ratings
/// @notice Residents' ratings of completed council proposals and budget projects, signed and
/// relayed in batches.
/// @dev A contract of its own rather than part of Initiatives: it rates what the Council
/// executed, not what residents put on the agenda, and keeps Initiatives' storage and ABI to one
/// concept. Everything a batch reads and writes sits in one word per proposal; who rated is a
/// bitmap by stable roll index (256 residents a word).
contract Ratings is IRatings, EIP712 {
    /// @inheritdoc IRatings
    bytes32 public constant RATING_TYPEHASH =
        keccak256("Rating(uint256 proposalId,address rater,uint8 score,bytes32 commentHash)");
    /// @inheritdoc IRatings
    uint256 public constant RATING_PERIOD = 30 days;

    uint8 private constant MAX_SCORE = 5;
    /// @dev The top bit of a budget project's id (IParticipatoryBudget.grantIdOf).
    uint256 private constant PROJECT_FLAG = 1 << 255;

    /// @dev One word: the snapshot, the window and the running count and sum.
    struct Round {
        uint64 communityId;
        uint32 rollVersion;
        uint32 rollSize;
        uint40 closesAt;
        uint32 count;
        uint40 scoreSum;
    }

    IRegistry private immutable _registry;
    ICouncil private immutable _council;
    IParticipatoryBudget private immutable _budget;
    mapping(uint256 proposalId => Round) private _rounds;
    /// @dev Who rated, by roll index: word `i / 256`, bit `i % 256`.
    mapping(uint256 proposalId => mapping(uint256 word => uint256)) private _raters;

    /// @notice Wires the contract to the Registry it reads rolls from, and the Council and the
    /// ParticipatoryBudget whose completed work it rates.
    constructor(address registry_, address council_, address budget_) EIP712("CommonsRatings", "1") {
        _registry = IRegistry(registry_);
        _council = ICouncil(council_);
        _budget = IParticipatoryBudget(budget_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IRatings
    function rate(uint256 proposalId, SignedRating[] calldata ratings) external returns (uint256 counted) {
        Round storage round = _rounds[proposalId];
        if (round.communityId == 0) _open(round, proposalId);
        if (block.timestamp >= round.closesAt) {
            for (uint256 k; k < ratings.length; ++k) {
                emit RatingSkipped(proposalId, ratings[k].rater, RatingSkipReason.RatingsClosed);
            }
            return 0;
        }
        uint256[] memory indexesPlusOne = _rollIndexes(round, ratings);
        uint256 sum;
        (counted, sum) = _countRatings(proposalId, ratings, indexesPlusOne);
        // At most the roll size (< 2^32) residents rate, 5 points each: both fit.
        round.count += uint32(counted);
        round.scoreSum += uint40(sum);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRatings
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IRatings
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IRatings
    function council() external view returns (address) {
        return address(_council);
    }

    /// @inheritdoc IRatings
    function budget() external view returns (address) {
        return address(_budget);
    }

    /// @inheritdoc IRatings
    function ratingsOf(uint256 proposalId) external view returns (RatingSummary memory summary) {
        Round storage round = _rounds[proposalId];
        summary.communityId = round.communityId;
        summary.rollVersion = round.rollVersion;
        summary.rollSize = round.rollSize;
        summary.closesAt = round.closesAt;
        summary.count = round.count;
        summary.scoreSum = round.scoreSum;
        summary.average = round.count == 0 ? 0 : uint256(round.scoreSum) * 100 / round.count;
    }

    /// @inheritdoc IRatings
    function hasRated(uint256 proposalId, address rater) external view returns (bool) {
        Round storage round = _rounds[proposalId];
        if (round.communityId == 0) return false;
        (bool assigned, uint32 index) = _registry.residentIndex(round.communityId, rater);
        return assigned && _raters[proposalId][index / 256] & (1 << (index % 256)) != 0;
    }

    /// @inheritdoc IRatings
    function ratingDigest(uint256 proposalId, address rater, uint8 score, bytes32 commentHash)
        external
        view
        returns (bytes32)
    {
        return _digest(proposalId, rater, score, commentHash);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Opens `proposalId`'s ratings if the Council reports it passed and completed (an
    /// unknown id makes `getProposal` revert: not completed either); a budget project's, if the
    /// ParticipatoryBudget reports it completed.
    function _open(Round storage round, uint256 proposalId) private {
        if (proposalId & PROJECT_FLAG != 0) {
            _openProject(round, proposalId);
            return;
        }
        try _council.getProposal(proposalId) returns (ICouncil.ProposalView memory p) {
            if (p.outcome != ICouncil.Outcome.Passed || p.execution != ICouncil.ExecutionStatus.Completed) {
                revert ProposalNotCompleted(proposalId);
            }
            _snapshot(round, proposalId, p.communityId);
        } catch {
            revert ProposalNotCompleted(proposalId);
        }
    }

    /// @dev Opens the ratings of the project named by `projectId` if a milestone recorded its
    /// execution as completed (only a selected, funded project has milestones; an unknown round
    /// or index makes `getProject` revert: not completed either).
    function _openProject(Round storage round, uint256 projectId) private {
        uint256 roundId = (projectId ^ PROJECT_FLAG) >> 8;
        uint256 index = projectId & 0xff;
        try _budget.getProject(roundId, index) returns (IParticipatoryBudget.BudgetProjectView memory p) {
            if (!p.completed) revert ProjectNotCompleted(roundId, index);
        } catch {
            revert ProjectNotCompleted(roundId, index);
        }
        _snapshot(round, projectId, _budget.getRound(roundId).communityId);
    }

    /// @dev Snapshots the community's published roll and starts the window.
    function _snapshot(Round storage round, uint256 proposalId, uint256 communityId) private {
        (uint32 rollVersion, uint32 rollSize) = _registry.rollSnapshot(communityId);
        uint40 closesAt = uint40(block.timestamp + RATING_PERIOD);
        // A proposal exists only in an existing community, whose id is below the Registry's count.
        round.communityId = uint64(communityId);
        round.rollVersion = rollVersion;
        round.rollSize = rollSize;
        round.closesAt = closesAt;
        emit RatingsOpened(proposalId, communityId, rollVersion, rollSize, closesAt);
    }

    /// @dev Eligibility of every rater at the snapshot, in one Registry call.
    function _rollIndexes(Round storage round, SignedRating[] calldata ratings)
        private
        view
        returns (uint256[] memory)
    {
        uint256 n = ratings.length;
        address[] memory raters = new address[](n);
        for (uint256 k; k < n; ++k) {
            raters[k] = ratings[k].rater;
        }
        return _registry.rollIndexesAt(round.communityId, round.rollVersion, raters);
    }

    /// @dev For each rating, in this order: score 1..5, low-s signature by the named rater over
    /// its EIP-712 digest, on the roll at the snapshot, not yet rated; then {Rated}, or
    /// {RatingSkipped} with the first rule broken.
    function _countRatings(uint256 proposalId, SignedRating[] calldata ratings, uint256[] memory indexesPlusOne)
        private
        returns (uint256 counted, uint256 sum)
    {
        mapping(uint256 word => uint256) storage raters = _raters[proposalId];
        for (uint256 k; k < ratings.length; ++k) {
            SignedRating calldata rating = ratings[k];
            (bool skipped, RatingSkipReason reason, bytes32 digest) = _check(proposalId, rating);
            if (!skipped) (skipped, reason) = _mark(raters, indexesPlusOne[k]);
            if (skipped) {
                emit RatingSkipped(proposalId, rating.rater, reason);
            } else {
                ++counted;
                sum += rating.score;
                emit Rated(proposalId, rating.rater, rating.score, rating.commentHash, digest);
            }
        }
    }

    /// @dev Whether the rating's score or signature is refused, and why; the digest it signs.
    function _check(uint256 proposalId, SignedRating calldata rating)
        private
        view
        returns (bool skipped, RatingSkipReason reason, bytes32 digest)
    {
        if (rating.score == 0 || rating.score > MAX_SCORE) return (true, RatingSkipReason.InvalidScore, digest);
        digest = _digest(proposalId, rating.rater, rating.score, rating.commentHash);
        uint256 s = uint256(rating.vs) & ((1 << 255) - 1);
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (s > HALF_N) return (true, RatingSkipReason.MalleableSignature, digest);
        uint8 v = uint8(uint256(rating.vs) >> 255) + 27;
        address recovered = ecrecover(digest, v, rating.r, bytes32(s));
        if (recovered == address(0) || recovered != rating.rater) {
            return (true, RatingSkipReason.BadSignature, digest);
        }
        return (false, reason, digest);
    }

    /// @dev Sets the bit of the rater with roll index `indexPlusOne - 1`; refuses one not on the
    /// roll at the snapshot (0) and one who already rated.
    function _mark(mapping(uint256 word => uint256) storage raters, uint256 indexPlusOne)
        private
        returns (bool skipped, RatingSkipReason reason)
    {
        if (indexPlusOne == 0) return (true, RatingSkipReason.NotOnRoll);
        uint256 index = indexPlusOne - 1;
        uint256 bit = 1 << (index % 256);
        uint256 word = raters[index / 256];
        if (word & bit != 0) return (true, RatingSkipReason.AlreadyRated);
        raters[index / 256] = word | bit;
        return (false, reason);
    }

    function _digest(uint256 proposalId, address rater, uint8 score, bytes32 commentHash)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RATING_TYPEHASH, proposalId, rater, score, commentHash)));
    }
}
