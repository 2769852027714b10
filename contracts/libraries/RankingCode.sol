// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev Nibble j is j: the candidate at each place among the unranked before any is read (see
/// RankingCode.decode).
uint256 constant RANKING_PLACES = 0xfedcba9876543210;
/// @dev Byte c (from the most significant) is c + 1 for candidates 0-15: one more than each
/// candidate's place among the unranked before anyone is ranked (see RankingCode.encode). The
/// low 16 bytes hold 16 each, a floor that the at most 16 ranks' decrements never borrow through.
uint256 constant RANKING_DIGITS = 0x0102030405060708090a0b0c0d0e0f1010101010101010101010101010101010;
/// @dev One in each of the high 16 bytes: shifted right by c + 1 bytes, one in each byte of the
/// candidates above c.
uint256 constant RANKING_ONES = 0x0101010101010101010101010101010100000000000000000000000000000000;

/// @title RankingCode
/// @notice How Elections stores a ranked ballot: one number per ranking, packed several to a word.
/// @dev A ranking of L distinct candidates c_0 .. c_{L-1} (L >= 1, at most maxChoices) out of C
/// is the number
///
///     code = sum over i < L of (1 + d_i) * P_i,   P_0 = 1,  P_{i+1} = P_i * (C - i)
///
/// where digit d_i is how many candidates below c_i are not among c_0 .. c_{i-1} (c_i's place
/// among those still unranked; d_0 = c_0). It is a bijection between the rankings of at most
/// maxChoices candidates (the empty one is 0) and [0, base), where
///
///     base = sum over L <= maxChoices of C! / (C - L)!   (9,864,101 for 10 of 10: 23.2 bits)
///
/// Reading it back, rank by rank: if code is 0 the ranking has ended; else d = (code - 1) % r and
/// code = (code - 1) / r, with r = C, C - 1, ... in turn, and the candidate is the d-th (from 0)
/// of those not yet read. A storage word holds `perWord(base)` codes as the digits of a number in
/// base `base` (11 rankings of 10 candidates a word, where 4 bits a rank held 6): a fresh word
/// costs 22,100 gas, so each ballot then pays 2,009 of it instead of 3,683
/// (bench/results/gas_elections.md).
///
/// Candidates' places among the unranked are kept as 16 nibbles, low first: nibble c holds c's
/// place when encoding (`PLACES`, and each ranked candidate lowers the nibbles above its own by
/// one), or the candidate at place j when decoding (the same start; the read place is cut out).
library RankingCode {
    /// @dev Nibble c is c: every candidate's place before anyone is ranked, and the candidate at
    /// each place.
    uint256 internal constant PLACES = 0xfedcba9876543210;
    /// @dev One in every nibble of a uint64.
    uint256 internal constant ONES = 0x1111111111111111;
    uint256 internal constant NIBBLES64 = 0xffffffffffffffff;

    /// @dev How many rankings of at most `maxChoices` of `count` candidates there are, the empty
    /// one included: the codes are [0, base).
    function base(uint256 count, uint256 maxChoices) internal pure returns (uint256 n) {
        n = 1;
        uint256 orderings = 1;
        for (uint256 i; i < maxChoices; ++i) {
            orderings *= count - i;
            n += orderings;
        }
    }

    /// @dev How many codes below `base_` (>= 3) fit a storage word as base-`base_` digits.
    function perWord(uint256 base_) internal pure returns (uint256 k) {
        uint256 room = type(uint256).max;
        while (room >= base_) {
            room /= base_;
            ++k;
        }
    }

    /// @dev The code of ranking `choices` (IElections' nibbles, already checked) kept to its first
    /// `maxChoices` ranks, as Elections stores it.
    function encode(uint64 choices, uint256 count, uint256 maxChoices) internal pure returns (uint256 code) {
        uint256 digits = RANKING_DIGITS;
        uint256 weight = 1;
        uint256 prev = type(uint256).max;
        for (uint256 i; i < maxChoices; ++i) {
            uint256 candidate = (uint256(choices) >> (4 * i)) & 15;
            if (candidate == prev) break; // the ranking has ended: its last candidate repeats
            code += uint8(bytes32(digits)[candidate]) * weight;
            weight *= count - i;
            digits -= RANKING_ONES >> (8 * (candidate + 1));
            prev = candidate;
        }
    }

    /// @dev The ranking `code` stands for, as its first `maxChoices` nibbles (a ranking that ends
    /// sooner repeats its last candidate), which is how Elections' views show a stored ballot.
    function decode(uint256 code, uint256 count, uint256 maxChoices) internal pure returns (uint64 choices) {
        uint256 unranked = RANKING_PLACES;
        uint256 candidate = 0; // a stored code is never 0: every stored ranking ranks someone
        uint256 r = count;
        for (uint256 i; i < maxChoices; ++i) {
            if (code != 0) {
                uint256 d = (code - 1) % r;
                code = (code - 1) / r;
                --r;
                candidate = (unranked >> (4 * d)) & 15;
                unranked = (unranked & ((1 << (4 * d)) - 1)) | ((unranked >> (4 * d + 4)) << (4 * d));
            }
            choices |= uint64(candidate << (4 * i));
        }
    }
}
