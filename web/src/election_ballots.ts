// An election ballot as IElections defines it, signed in the page with the resident's own key and
// handed to the relay; and the receipts of the ballots this browser cast, to show them again.
//
// `choices` is a uint64 (ledger/signing/election_ballots.py says the same): ranked, 16 nibbles,
// low first, nibble k the candidate ranked k + 1, a ranking of r < 16 repeating its last
// candidate in nibbles r..15; approval, a bitmap with bit c approving candidate c.

import { TypedDataEncoder, getAddress, type TypedDataField, type Wallet } from "ethers";
import { api } from "./api";
import { chain, electionDomain, type Chain } from "./chain";
import { EIP712_FIELDS } from "./protocol";
import type { AckOut, ReceiptOut } from "./schemas";

export const ELECTION_BALLOT_TYPES: Record<string, TypedDataField[]> = { ElectionBallot: EIP712_FIELDS.ElectionBallot };
const NIBBLES = 16;
const STORE = "commons.electionReceipts.v1";

export function encodeRanking(ranking: readonly number[]): bigint {
  if (ranking.length < 1 || ranking.length > NIBBLES || ranking.some((c) => !Number.isInteger(c) || c < 0 || c >= NIBBLES)) {
    throw new RangeError("ranking");
  }
  const last = ranking[ranking.length - 1];
  let choices = 0n;
  for (let k = 0; k < NIBBLES; k++) choices |= BigInt(ranking[k] ?? last) << BigInt(4 * k);
  return choices;
}

export function encodeApproval(approved: readonly number[]): bigint {
  let choices = 0n;
  for (const c of approved) {
    if (!Number.isInteger(c) || c < 0 || c >= NIBBLES) throw new RangeError("approval");
    choices |= 1n << BigInt(c);
  }
  return choices;
}

/** The EIP-712 digest of an election ballot: what the relay's receipt reports once counted. */
export function electionBallotDigest(c: Chain, electionId: number, voter: string, choices: bigint): string {
  return TypedDataEncoder.hash(electionDomain(c), ELECTION_BALLOT_TYPES, { electionId, voter: getAddress(voter), choices });
}

export async function castElectionBallot(
  wallet: Wallet,
  electionId: number,
  choices: bigint,
): Promise<{ receipt: ReceiptOut; digest: string }> {
  const c = await chain();
  const voter = getAddress(wallet.address);
  const message = { electionId, voter, choices };
  const signature = await wallet.signTypedData(electionDomain(c), ELECTION_BALLOT_TYPES, message);
  // Written by hand: a ranking's choices are often past 2^53, where a JSON number loses digits.
  const rawJson = `{"electionId":${electionId},"voter":"${voter}","choices":${choices.toString()},"signature":"${signature}"}`;
  const receipt = await api<ReceiptOut>("/v1/election-ballots", { rawJson });
  return { receipt, digest: electionBallotDigest(c, electionId, voter, choices) };
}

export interface ElectionReceipt {
  id: string;
  electionId: number;
  communityId: number;
  voter: string;
  /** the ballot as the voter read it when signing ("1. Wang, 2. Li") */
  read: string;
  /** `choices` as a decimal string (a uint64) */
  choices: string;
  digest: string;
  acceptedAt: number;
  status: string;
  ack?: AckOut | null;
}

export function electionReceipts(): ElectionReceipt[] {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "[]") as ElectionReceipt[];
  } catch {
    return [];
  }
}

export function saveElectionReceipt(receipt: ElectionReceipt): void {
  const all = electionReceipts().filter((r) => r.id !== receipt.id);
  all.unshift(receipt);
  localStorage.setItem(STORE, JSON.stringify(all));
}

export function updateElectionStatus(id: string, status: string): void {
  const all = electionReceipts();
  const kept = all.find((r) => r.id === id);
  if (kept) {
    kept.status = status;
    localStorage.setItem(STORE, JSON.stringify(all));
  }
}
