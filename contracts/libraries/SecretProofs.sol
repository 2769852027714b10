// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SecretProofs
/// @notice The secret-ballot proofs checked on-chain (docs/secret-ballots.md): a ballot's
/// 0-or-1 and sum proofs, a trustee's partial decryption, and the Feldman commitments of the
/// trustees' key generation, over alt_bn128 G1 with the EVM's ecAdd (0x06) and ecMul (0x07).
/// @dev A point is (x, y) with (0, 0) the point at infinity. Every point taken from outside is
/// range- and curve-checked here before a precompile sees it (G1's cofactor is 1, so on the curve
/// means in the group). The Fiat-Shamir transcripts are the words of ledger/secret/transcript.py
/// in the same order; tests/vectors/secret_ballot.json holds both to the same answers.
/// A precompile can only fail here for want of gas (its inputs are checked first): then the call
/// reverts, it never returns false, so starving a challenge of gas cannot void a valid ballot.
library SecretProofs {
    /// @dev The base field prime p of alt_bn128.
    uint256 internal constant P = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
    /// @dev The order r of G1 (scalars are below it).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev keccak256("commons.secret.ballot.v1"): the first word of a ballot's challenge.
    uint256 internal constant TAG_BALLOT = uint256(keccak256("commons.secret.ballot.v1"));
    /// @dev keccak256("commons.secret.partial.v1"): the first word of a partial's challenge.
    uint256 internal constant TAG_PARTIAL = uint256(keccak256("commons.secret.partial.v1"));
    /// @dev keccak256("commons.secret.share.v1"): the first word of a DKG share's pad.
    uint256 internal constant TAG_SHARE = uint256(keccak256("commons.secret.share.v1"));
    /// @dev The fewest and most options a secret ballot has.
    uint256 internal constant MIN_OPTIONS = 2;
    uint256 internal constant MAX_OPTIONS = 8;

    /// @dev Words of a ballot's challenge before the ciphertexts: tag, chainId, contract, vote,
    /// Y.x, Y.y, voter, question, n.
    uint256 private constant HEADER_WORDS = 9;

    /// @notice A point of G1 in affine coordinates; (0, 0) is the point at infinity.
    struct Point {
        uint256 x;
        uint256 y;
    }

    /// @notice What binds a proof to one secret vote: the chain, the SecretBallot contract that
    /// holds the vote (its own address when it checks), and the vote's id.
    struct Context {
        uint256 chainId;
        address verifyingContract;
        uint256 voteId;
    }

    /// @notice Whether (x, y) is a point of G1: (0, 0), or both below p with y² = x³ + 3.
    /// @dev Refuses x + p and y + p, which some implementations silently reduce.
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x == 0 && y == 0) return true;
        if (x >= P || y >= P) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }

    /// @notice a + b (ecAdd). Both must be points (isOnCurve).
    function add(Point memory a, Point memory b) internal view returns (Point memory sum) {
        (sum.x, sum.y) = _add(a.x, a.y, b.x, b.y);
    }

    /// @notice s·a (ecMul); any 256-bit s, taken mod r. `a` must be a point (isOnCurve).
    function mul(Point memory a, uint256 s) internal view returns (Point memory product) {
        (product.x, product.y) = _mul(a.x, a.y, s);
    }

    /// @notice -a: (x, p - y), and infinity for infinity.
    function neg(Point memory a) internal pure returns (Point memory) {
        if (a.x == 0 && a.y == 0) return a;
        return Point(a.x, P - a.y);
    }

    /// @notice a - b.
    function sub(Point memory a, Point memory b) internal view returns (Point memory) {
        return add(a, neg(b));
    }

    /// @notice Σ_l k^l·commitments[l]: f(k)·g for the polynomial f the Feldman commitments
    /// C_l = a_l·g fix. A trustee k's share s from that dealer is right iff s·g equals it.
    /// @dev Every commitment must be a point (isOnCurve), checked when it was posted.
    function commitmentAt(Point[] memory commitments, uint256 k) internal view returns (Point memory value) {
        uint256 power = 1;
        for (uint256 i; i < commitments.length; ++i) {
            (uint256 x, uint256 y) = _mul(commitments[i].x, commitments[i].y, power);
            (value.x, value.y) = _add(value.x, value.y, x, y);
            power = mulmod(power, k, R);
        }
    }

    /// @notice Whether `share` is f(k) for the dealer whose commitments are `commitments`: the
    /// check a complaint's answer in clear must pass (s_ik·g == Σ_l k^l·C_il).
    function shareMatches(Point[] memory commitments, uint256 k, uint256 share) internal view returns (bool) {
        if (share >= R) return false;
        (uint256 x, uint256 y) = _mul(1, 2, share);
        Point memory expected = commitmentAt(commitments, k);
        return x == expected.x && y == expected.y;
    }

    /// @notice Trustee k's verification key Y_k = Σ_{i∈Q} Σ_l k^l·C_il (= x_k·g).
    /// @param commitments The commitments of the qualified dealers one after another, each
    /// dealer's `threshold` commitments in order (C_i0 .. C_i,t-1).
    /// @dev Sums each power's commitments first: t ecMul and |Q|·t ecAdd, not |Q|·t ecMul.
    function verificationKey(
        Point[] memory commitments,
        uint256 threshold,
        uint256 k
    ) internal view returns (Point memory) {
        Point[] memory byPower = new Point[](threshold);
        for (uint256 i; i < commitments.length; ++i) {
            Point memory sum = byPower[i % threshold];
            (sum.x, sum.y) = _add(sum.x, sum.y, commitments[i].x, commitments[i].y);
        }
        return commitmentAt(byPower, k);
    }

    /// @notice The number of options of a ballot of `wordCount` words (7n + 2), or 0 when no
    /// ballot of 2..8 options has that many words.
    function optionsOf(uint256 wordCount) internal pure returns (uint256 options) {
        if (wordCount < 2 || (wordCount - 2) % 7 != 0) return 0;
        options = (wordCount - 2) / 7;
        if (options < MIN_OPTIONS || options > MAX_OPTIONS) return 0;
    }

    /// @notice Whether `words` is a ballot, under election key `key`, that encrypts one 1 among
    /// 0s for `voter` in this vote, with every proof right. False under a key at infinity.
    /// @param words The ballot as sent: for each option j, A_j.x, A_j.y, B_j.x, B_j.y; then the
    /// proof c, for each option (c0_j, z0_j, z1_j), then z_s (7n + 2 words, 2 <= n <= 8).
    /// @dev Recomputes a_kj = z_kj·g - c_kj·A_j, b_kj = z_kj·Y - c_kj·(B_j - k·g) (c1_j = c - c0_j),
    /// a_s = z_s·g - c·ΣA, b_s = z_s·Y - c·(ΣB - g), and compares H(TAG_BALLOT, chainId,
    /// contract, vote, Y, voter, question, n, ciphertexts, commitments) with c. False for a
    /// malformed ballot (a wrong length, a point off the curve or not below p, a scalar >= r).
    function verifyBallot(
        Context memory context,
        Point memory key,
        address voter,
        bytes32 question,
        uint256[] memory words
    ) internal view returns (bool) {
        uint256 options = optionsOf(words.length);
        if (options == 0 || !_wellFormed(words, options) || !_isKey(key)) return false;
        uint256[] memory transcript = new uint256[](HEADER_WORDS + 12 * options + 4);
        _writeHeader(transcript, context, key, voter, question, options);
        for (uint256 i; i < 4 * options; ++i) {
            transcript[HEADER_WORDS + i] = words[i];
        }
        for (uint256 j; j < options; ++j) {
            _optionCommitments(transcript, words, key, options, j);
        }
        _sumCommitments(transcript, words, key, options);
        return _hash(transcript) == words[4 * options];
    }

    /// @notice Whether (share, challenge, response) proves that trustee `trustee`'s partial
    /// decryption D = x_k·SA_j of option `option` uses the x_k of its verification key
    /// Y_k = x_k·g: a = z·g - c·Y_k, b = z·SA_j - c·D and H(TAG_PARTIAL, chainId, contract,
    /// vote, k, j, Y_k, SA_j, D, a, b) == c.
    /// @dev False for a share off the curve or a scalar >= r. `verificationKey_` and `aggregate`
    /// are the contract's own (computed, not taken from the caller).
    function verifyPartial(
        Context memory context,
        uint256 trustee,
        uint256 option,
        Point memory verificationKey_,
        Point memory aggregate,
        Point memory share,
        uint256 challenge,
        uint256 response
    ) internal view returns (bool) {
        if (!isOnCurve(share.x, share.y) || challenge >= R || response >= R) return false;
        uint256[] memory transcript = new uint256[](16);
        transcript[0] = TAG_PARTIAL;
        transcript[1] = context.chainId;
        transcript[2] = uint256(uint160(context.verifyingContract));
        transcript[3] = context.voteId;
        transcript[4] = trustee;
        transcript[5] = option;
        transcript[6] = verificationKey_.x;
        transcript[7] = verificationKey_.y;
        transcript[8] = aggregate.x;
        transcript[9] = aggregate.y;
        transcript[10] = share.x;
        transcript[11] = share.y;
        uint256 minusC = R - challenge;
        (transcript[12], transcript[13]) = _mulAdd(1, 2, response, verificationKey_.x, verificationKey_.y, minusC);
        (transcript[14], transcript[15]) = _mulAdd(aggregate.x, aggregate.y, response, share.x, share.y, minusC);
        return _hash(transcript) == challenge;
    }

    /// @notice λ_k = Π_{m≠k} m/(m - k) mod r over the trustees `indices` (distinct, non-zero):
    /// Σ_k λ_k·f(k) = f(0) for any polynomial f of degree below indices.length.
    function lagrangeAtZero(uint256[] memory indices, uint256 k) internal view returns (uint256) {
        uint256 numerator = 1;
        uint256 denominator = 1;
        for (uint256 i; i < indices.length; ++i) {
            uint256 m = indices[i];
            if (m == k) continue;
            numerator = mulmod(numerator, m, R);
            denominator = mulmod(denominator, addmod(m, R - (k % R), R), R);
        }
        return mulmod(numerator, _inverse(denominator), R);
    }

    /// @dev An election key is a point other than infinity (under which B_j = m_j·g: a vote in
    /// clear).
    function _isKey(Point memory key) private pure returns (bool) {
        return (key.x != 0 || key.y != 0) && isOnCurve(key.x, key.y);
    }

    /// @dev Whether every point of the ballot is a point and every proof word a scalar.
    function _wellFormed(uint256[] memory words, uint256 options) private pure returns (bool) {
        for (uint256 i; i < 4 * options; i += 2) {
            if (!isOnCurve(words[i], words[i + 1])) return false;
        }
        for (uint256 i = 4 * options; i < words.length; ++i) {
            if (words[i] >= R) return false;
        }
        return true;
    }

    function _writeHeader(
        uint256[] memory transcript,
        Context memory context,
        Point memory key,
        address voter,
        bytes32 question,
        uint256 options
    ) private pure {
        transcript[0] = TAG_BALLOT;
        transcript[1] = context.chainId;
        transcript[2] = uint256(uint160(context.verifyingContract));
        transcript[3] = context.voteId;
        transcript[4] = key.x;
        transcript[5] = key.y;
        transcript[6] = uint256(uint160(voter));
        transcript[7] = uint256(question);
        transcript[8] = options;
    }

    /// @dev Writes a_0j, b_0j, a_1j, b_1j into the transcript after the ciphertexts.
    function _optionCommitments(
        uint256[] memory transcript,
        uint256[] memory words,
        Point memory key,
        uint256 options,
        uint256 j
    ) private view {
        uint256 proof = 4 * options + 1 + 3 * j; // c0_j, z0_j, z1_j
        uint256 minusC0 = R - words[proof];
        uint256 minusC1 = addmod(words[proof], R - words[4 * options], R); // -(c - c0)
        uint256 at = HEADER_WORDS + 4 * options + 8 * j;
        (uint256 ax, uint256 ay) = (words[4 * j], words[4 * j + 1]);
        (uint256 bx, uint256 by) = (words[4 * j + 2], words[4 * j + 3]);
        (transcript[at], transcript[at + 1]) = _mulAdd(1, 2, words[proof + 1], ax, ay, minusC0);
        (transcript[at + 2], transcript[at + 3]) = _mulAdd(key.x, key.y, words[proof + 1], bx, by, minusC0);
        (transcript[at + 4], transcript[at + 5]) = _mulAdd(1, 2, words[proof + 2], ax, ay, minusC1);
        (bx, by) = _add(bx, by, 1, P - 2); // B_j - g
        (transcript[at + 6], transcript[at + 7]) = _mulAdd(key.x, key.y, words[proof + 2], bx, by, minusC1);
    }

    /// @dev Writes a_s, b_s (the sum proof's commitments) at the end of the transcript.
    function _sumCommitments(
        uint256[] memory transcript,
        uint256[] memory words,
        Point memory key,
        uint256 options
    ) private view {
        // The sums start at the point at infinity, (0, 0).
        uint256 sax = 0;
        uint256 say = 0;
        uint256 sbx = 0;
        uint256 sby = 0;
        for (uint256 j; j < options; ++j) {
            (sax, say) = _add(sax, say, words[4 * j], words[4 * j + 1]);
            (sbx, sby) = _add(sbx, sby, words[4 * j + 2], words[4 * j + 3]);
        }
        (sbx, sby) = _add(sbx, sby, 1, P - 2); // ΣB - g
        uint256 minusC = R - words[4 * options];
        uint256 zs = words[words.length - 1];
        uint256 at = transcript.length - 4;
        (transcript[at], transcript[at + 1]) = _mulAdd(1, 2, zs, sax, say, minusC);
        (transcript[at + 2], transcript[at + 3]) = _mulAdd(key.x, key.y, zs, sbx, sby, minusC);
    }

    /// @dev H(words) = uint256(keccak256(abi.encode(words...))) mod r.
    function _hash(uint256[] memory words) private pure returns (uint256 h) {
        assembly ("memory-safe") {
            h := keccak256(add(words, 0x20), mul(mload(words), 0x20))
        }
        h %= R;
    }

    function _add(uint256 ax, uint256 ay, uint256 bx, uint256 by) private view returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, ax)
            mstore(add(m, 0x20), ay)
            mstore(add(m, 0x40), bx)
            mstore(add(m, 0x60), by)
            if iszero(staticcall(gas(), 0x06, m, 0x80, m, 0x40)) {
                revert(0, 0)
            }
            x := mload(m)
            y := mload(add(m, 0x20))
        }
    }

    function _mul(uint256 ax, uint256 ay, uint256 s) private view returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, ax)
            mstore(add(m, 0x20), ay)
            mstore(add(m, 0x40), s)
            if iszero(staticcall(gas(), 0x07, m, 0x60, m, 0x40)) {
                revert(0, 0)
            }
            x := mload(m)
            y := mload(add(m, 0x20))
        }
    }

    /// @dev s·(px, py) + t·(qx, qy): two ecMul and one ecAdd in scratch memory.
    function _mulAdd(
        uint256 px,
        uint256 py,
        uint256 s,
        uint256 qx,
        uint256 qy,
        uint256 t
    ) private view returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, px)
            mstore(add(m, 0x20), py)
            mstore(add(m, 0x40), s)
            let ok := staticcall(gas(), 0x07, m, 0x60, m, 0x40)
            mstore(add(m, 0x40), qx)
            mstore(add(m, 0x60), qy)
            mstore(add(m, 0x80), t)
            ok := and(ok, staticcall(gas(), 0x07, add(m, 0x40), 0x60, add(m, 0x40), 0x40))
            ok := and(ok, staticcall(gas(), 0x06, m, 0x80, m, 0x40))
            if iszero(ok) {
                revert(0, 0)
            }
            x := mload(m)
            y := mload(add(m, 0x20))
        }
    }

    /// @dev a^(r-2) mod r (Fermat) by the modexp precompile (0x05); 0 for a = 0.
    function _inverse(uint256 a) private view returns (uint256 result) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, 0x20)
            mstore(add(m, 0x20), 0x20)
            mstore(add(m, 0x40), 0x20)
            mstore(add(m, 0x60), a)
            mstore(add(m, 0x80), sub(R, 2))
            mstore(add(m, 0xa0), R)
            if iszero(staticcall(gas(), 0x05, m, 0xc0, m, 0x20)) {
                revert(0, 0)
            }
            result := mload(m)
        }
    }
}
