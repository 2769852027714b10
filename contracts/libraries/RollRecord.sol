// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev How long a roll snapshot must stay answerable: no proposal may accept ballots longer than
/// this after it was opened (Council enforces it), so membership intervals that ended more than this
/// long ago can no longer matter to any ballot and may be pruned (Registry relies on it).
uint256 constant ROLL_SNAPSHOT_LIFETIME = 400 days;

/// @title RollRecord
/// @notice Codec for the one storage word the Registry keeps per (community, resident).
/// @dev Layout, low bits first (every field 32 bits):
///
///   [0]  index + 1        stable per-community index of the resident (0 = never on the roll)
///   [1]  historyFrom      roll versions below this are no longer described (pruned intervals)
///   [2]  join0  [3] leave0   newest membership interval
///   [4]  join1  [5] leave1
///   [6]  join2  [7] leave2   oldest kept interval
///
/// A resident is on the roll at version `v` of an interval when `join <= v` and (`leave == 0` or
/// `v < leave`); `join == 0` marks an unused interval. Roll versions start at 1.
library RollRecord {
    /// @dev Membership intervals kept per resident (leave + rejoin twice before pruning is needed).
    uint256 internal constant INTERVALS = 3;

    uint256 private constant MASK32 = 0xffffffff;

    function indexPlusOne(uint256 record) internal pure returns (uint256) {
        return record & MASK32;
    }

    function historyFrom(uint256 record) internal pure returns (uint32) {
        return uint32(record >> 32);
    }

    function joinAt(uint256 record, uint256 k) internal pure returns (uint32) {
        return uint32(record >> (64 + 64 * k));
    }

    function leaveAt(uint256 record, uint256 k) internal pure returns (uint32) {
        return uint32(record >> (96 + 64 * k));
    }

    /// @dev True when the newest interval is open (the resident is on the roll being staged).
    function isActive(uint256 record) internal pure returns (bool) {
        return joinAt(record, 0) != 0 && leaveAt(record, 0) == 0;
    }

    /// @dev Membership at a published `version` (callers never ask about unpublished versions).
    /// Intervals are newest first and disjoint, so the first one starting at or before `version`
    /// decides. Runs once per relayed ballot: the loop takes at most INTERVALS steps and stops at
    /// the first interval that is unused or starts at or before `version`.
    function isMemberAt(uint256 record, uint32 version) internal pure returns (bool) {
        unchecked {
            uint256 v = version;
            for (uint256 shift = 64; shift < 256; shift += 64) {
                uint256 join = (record >> shift) & MASK32;
                if (join == 0) return false;
                if (join <= v) {
                    // Pruned history is unknown history: refuse rather than guess. (The newest
                    // interval always starts at or after historyFrom.)
                    if (v < (record >> 32) & MASK32) return false;
                    uint256 leave = (record >> (shift + 32)) & MASK32;
                    return leave == 0 || v < leave;
                }
            }
            return false;
        }
    }

    /// @dev The resident's index + 1 if on the roll at `version`, else 0.
    function indexAt(uint256 record, uint32 version) internal pure returns (uint256) {
        return isMemberAt(record, version) ? record & MASK32 : 0;
    }

    function withIndexPlusOne(uint256 record, uint256 value) internal pure returns (uint256) {
        return (record & ~MASK32) | (value & MASK32);
    }

    function withHistoryFrom(uint256 record, uint32 value) internal pure returns (uint256) {
        return (record & ~(MASK32 << 32)) | (uint256(value) << 32);
    }

    function withLeave0(uint256 record, uint32 value) internal pure returns (uint256) {
        return (record & ~(MASK32 << 96)) | (uint256(value) << 96);
    }

    /// @dev Opens a new newest interval at `version`, shifting older ones down; the oldest kept
    /// interval is dropped (the caller has checked that may be done and recorded `historyFrom`).
    function pushInterval(uint256 record, uint32 version) internal pure returns (uint256) {
        uint256 head = record & ((1 << 64) - 1);
        uint256 intervals = (record >> 64) & ((1 << 128) - 1); // newest two intervals survive
        return head | (intervals << 128) | (uint256(version) << 64);
    }

    /// @dev Removes the newest interval (undoing a join staged in the same version), shifting
    /// older ones up.
    function popInterval(uint256 record) internal pure returns (uint256) {
        uint256 head = record & ((1 << 64) - 1);
        return head | ((record >> 128) << 64);
    }
}
