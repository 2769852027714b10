// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SecretProofs
/// @notice alt_bn128 G1 arithmetic over the EVM's precompiles (0x06 ecAdd, 0x07 ecMul) and the
/// checks of the secret-ballot proofs (docs/secret-ballots.md): a ballot's disjunctive
/// Chaum-Pedersen proofs and sum proof, a trustee's partial decryption proof, and Feldman
/// commitments evaluated at a trustee's number. Points are two words; (0, 0) is infinity.
library SecretProofs {
    /// @notice The base field prime p.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice The group order r.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    bytes32 internal constant TAG_BALLOT = keccak256("commons.secret.ballot.v1");
    bytes32 internal constant TAG_PARTIAL = keccak256("commons.secret.partial.v1");
    bytes32 internal constant TAG_SHARE = keccak256("commons.secret.share.v1");

    /// @notice Whether (x, y) is a point of G1: both below p and on y² = x³ + 3, or (0, 0).
    function isPoint(uint256 x, uint256 y) internal pure returns (bool) {
        if (x == 0 && y == 0) return true;
        if (x >= P || y >= P) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }

    /// @notice (ax, ay) + (bx, by); reverts on an invalid point (the precompile refuses it).
    function add(uint256 ax, uint256 ay, uint256 bx, uint256 by) internal view returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, ax)
            mstore(add(m, 0x20), ay)
            mstore(add(m, 0x40), bx)
            mstore(add(m, 0x60), by)
            if iszero(staticcall(gas(), 0x06, m, 0x80, m, 0x40)) { revert(0, 0) }
            x := mload(m)
            y := mload(add(m, 0x20))
        }
    }

    /// @notice s·(px, py); reverts on an invalid point.
    function mul(uint256 px, uint256 py, uint256 s) internal view returns (uint256 x, uint256 y) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, px)
            mstore(add(m, 0x20), py)
            mstore(add(m, 0x40), s)
            if iszero(staticcall(gas(), 0x07, m, 0x60, m, 0x40)) { revert(0, 0) }
            x := mload(m)
            y := mload(add(m, 0x20))
        }
    }

    /// @notice s·g.
    function mulG(uint256 s) internal view returns (uint256 x, uint256 y) {
        return mul(1, 2, s);
    }

    /// @notice a·A - c·B: a Chaum-Pedersen commitment recomputed from its response.
    function _commitment(uint256[2] memory a, uint256 z, uint256[2] memory b, uint256 c)
        private
        view
        returns (uint256 x, uint256 y)
    {
        (uint256 zx, uint256 zy) = mul(a[0], a[1], z);
        (uint256 cx, uint256 cy) = mul(b[0], b[1], R - c);
        return add(zx, zy, cx, cy);
    }

    /// @notice Σ_l k^l·C_l for commitments C_l.x, C_l.y (l = 0..t-1): a dealer's share for trustee
    /// k in the exponent, or, over summed commitments, trustee k's verification key Y_k.
    function verificationKey(uint256[] memory commitments, uint256 k) internal view returns (uint256 x, uint256 y) {
        uint256 power = 1;
        for (uint256 w; w < commitments.length; w += 2) {
            (uint256 tx_, uint256 ty) = mul(commitments[w], commitments[w + 1], power);
            (x, y) = add(x, y, tx_, ty);
            power = mulmod(power, k, R);
        }
    }

    /// @notice Whether a trustee's partial decryption D = x_k·SA of option j is proven by (c, z)
    /// against its verification key Y_k. `context`: chain id, verifier, vote id, k, j;
    /// `proven`: D.x, D.y, c, z.
    function verifyPartial(
        uint256[5] memory context,
        uint256[2] memory yk,
        uint256[2] memory sa,
        uint256[4] memory proven
    ) internal view returns (bool) {
        (uint256 c, uint256 z) = (proven[2], proven[3]);
        if (c >= R || z >= R || !isPoint(proven[0], proven[1])) return false;
        (uint256 ax, uint256 ay) = _commitment([uint256(1), 2], z, yk, c);
        (uint256 bx, uint256 by) = _commitment(sa, z, [proven[0], proven[1]], c);
        bytes32 h = keccak256(
            abi.encode(TAG_PARTIAL, context, yk, sa, proven[0], proven[1], ax, ay, bx, by)
        );
        return uint256(h) % R == c;
    }

    /// @notice Whether a ballot's proofs hold: each option encrypts 0 or 1 and the options sum to
    /// 1, under election key `y`, bound to the chain, `verifier`, the vote, the voter and the
    /// question. `words`: the ciphertexts (A_j, B_j per option) then c, (c0_j, z0_j, z1_j), z_s.
    function verifyBallot(
        uint256 chainId,
        address verifier,
        uint256 voteId,
        uint256[2] memory y,
        address voter,
        bytes32 questionHash,
        uint256 options,
        uint256[] calldata words
    ) internal view returns (bool) {
        if (words.length != 7 * options + 2) return false;
        uint256 c = words[4 * options];
        if (c >= R || words[words.length - 1] >= R) return false;
        uint256[] memory transcript = new uint256[](9 + 12 * options + 4);
        transcript[0] = uint256(TAG_BALLOT);
        transcript[1] = chainId;
        transcript[2] = uint256(uint160(verifier));
        transcript[3] = voteId;
        transcript[4] = y[0];
        transcript[5] = y[1];
        transcript[6] = uint256(uint160(voter));
        transcript[7] = uint256(questionHash);
        transcript[8] = options;
        for (uint256 w; w < 4 * options; ++w) {
            transcript[9 + w] = words[w];
        }
        for (uint256 j; j < options; ++j) {
            if (!_optionCommitments(words, options, j, y, c, transcript)) return false;
        }
        if (!_sumCommitments(words, options, y, c, transcript)) return false;
        return uint256(keccak256(abi.encodePacked(transcript))) % R == c;
    }

    /// @dev Writes a_0j, b_0j, a_1j, b_1j into the transcript; false on an invalid input.
    function _optionCommitments(
        uint256[] calldata words,
        uint256 options,
        uint256 j,
        uint256[2] memory y,
        uint256 c,
        uint256[] memory transcript
    ) private view returns (bool) {
        uint256[2] memory a = [words[4 * j], words[4 * j + 1]];
        uint256[2] memory b = [words[4 * j + 2], words[4 * j + 3]];
        if (!isPoint(a[0], a[1]) || !isPoint(b[0], b[1])) return false;
        uint256 proof = 4 * options + 1 + 3 * j;
        (uint256 c0, uint256 z0, uint256 z1) = (words[proof], words[proof + 1], words[proof + 2]);
        if (c0 >= R || z0 >= R || z1 >= R) return false;
        uint256 c1 = addmod(c, R - c0, R);
        uint256 at = 9 + 4 * options + 8 * j;
        (transcript[at], transcript[at + 1]) = _commitment([uint256(1), 2], z0, a, c0);
        (transcript[at + 2], transcript[at + 3]) = _commitment(y, z0, b, c0);
        (transcript[at + 4], transcript[at + 5]) = _commitment([uint256(1), 2], z1, a, c1);
        (uint256 bx, uint256 by) = add(b[0], b[1], 1, P - 2); // B - g
        (transcript[at + 6], transcript[at + 7]) = _commitment(y, z1, [bx, by], c1);
        return true;
    }

    /// @dev Writes a_s, b_s into the transcript (the points were checked by the option proofs).
    function _sumCommitments(
        uint256[] calldata words,
        uint256 options,
        uint256[2] memory y,
        uint256 c,
        uint256[] memory transcript
    ) private view returns (bool) {
        uint256[2] memory sa = [uint256(0), 0]; // infinity
        uint256[2] memory sb = [uint256(1), P - 2]; // -g, so sb ends as SB - g
        for (uint256 j; j < options; ++j) {
            (sa[0], sa[1]) = add(sa[0], sa[1], words[4 * j], words[4 * j + 1]);
            (sb[0], sb[1]) = add(sb[0], sb[1], words[4 * j + 2], words[4 * j + 3]);
        }
        uint256 zs = words[words.length - 1];
        uint256 at = 9 + 12 * options;
        (transcript[at], transcript[at + 1]) = _commitment([uint256(1), 2], zs, sa, c);
        (transcript[at + 2], transcript[at + 3]) = _commitment(y, zs, sb, c);
        return true;
    }
}
