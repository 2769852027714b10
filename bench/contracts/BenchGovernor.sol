// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Bench-only: the smallest standard OpenZeppelin Governor (GovernorCountingSimple +
// GovernorVotes over an ERC20Votes token), to compare its castVote / castVoteBySig gas with the
// Council's in the same run, compiled with the project's own settings.

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

contract BenchVotesToken is ERC20, ERC20Permit, ERC20Votes {
    constructor() ERC20("Bench Votes", "BVT") ERC20Permit("Bench Votes") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}

contract BenchGovernor is Governor, GovernorCountingSimple, GovernorVotes {
    constructor(IVotes token) Governor("BenchGovernor") GovernorVotes(token) {}

    function votingDelay() public pure override returns (uint256) {
        return 1;
    }

    function votingPeriod() public pure override returns (uint256) {
        return 10_000;
    }

    function quorum(uint256) public pure override returns (uint256) {
        return 1;
    }
}
