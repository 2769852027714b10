// A participatory-budget ballot as the contract reads it: bit i of a uint256 chooses project i
// (IParticipatoryBudget's NatSpec). A round may hold 256 projects, past what a JS number keeps
// exactly (2^53), so the bitmap is a BigInt and the JSON body carries it digit for digit.

export function budgetBitmap(picks: number[]): bigint {
  return picks.reduce((bits, i) => {
    if (!Number.isInteger(i) || i < 0 || i > 255) throw new RangeError(`no project ${i} in a round`);
    return bits | (1n << BigInt(i));
  }, 0n);
}

/** The body of `POST /v1/budget-ballots`, with `projects` a JSON integer of every digit. */
export function budgetBallotJson(roundId: number, voter: string, projects: bigint, signature: string): string {
  return `{"roundId":${roundId},"voter":${JSON.stringify(voter)},"projects":${projects.toString()},"signature":${JSON.stringify(signature)}}`;
}
