// A resident's secret ballot as the page makes it: encrypted and proven for this vote, this key
// and this question (web/src/secret/), then signed as EIP-712 SecretBallot(voteId, voter,
// ballotHash) with the resident's own key and handed to the relay. The vote's API record says
// what a ballot is bound to: chain, contract, vote, election key and the question's hash.

import { getAddress, toBeHex, type TypedDataDomain, type TypedDataField, type Wallet } from "ethers";
import { api } from "./api";
import { textHash } from "./chain";
import { DOMAINS, EIP712_FIELDS } from "./protocol";
import type { ReceiptOut, SecretVoteOut } from "./schemas";
import { type BallotStatement, type SealedBallot, ballotDigest, ballotWords, decryptSpoiled, encrypt } from "./secret/ballot";
import { G, type Point, mul, pointFromWords, tabled } from "./secret/group";

export const SECRET_BALLOT_TYPES: Record<string, TypedDataField[]> = { SecretBallot: EIP712_FIELDS.SecretBallot };

export function secretBallotDomain(v: SecretVoteOut): TypedDataDomain {
  const { name, version } = DOMAINS.SecretBallot;
  return { name, version, chainId: v.chainId, verifyingContract: getAddress(v.contract) };
}

// Election keys with their tables, by coordinates: one table a key however often its vote is drawn.
const keys = new Map<string, Point>();

function electionKey(x: string, y: string): Point {
  const id = `${BigInt(x)},${BigInt(y)}`;
  let key = keys.get(id);
  if (!key) {
    key = tabled(pointFromWords(BigInt(x), BigInt(y)));
    keys.set(id, key);
    mul(G, 1n); // and g's own table (noble builds it on first use): both while the vote is drawn
  }
  return key;
}

/** What `voter`'s ballot in `v` proves itself about; null before the election key exists. */
export function statementFor(v: SecretVoteOut, voter: string): BallotStatement | null {
  const [x, y] = v.electionKey ?? [];
  if (x === undefined || y === undefined) return null;
  return {
    context: { chainId: BigInt(v.chainId), contract: BigInt(v.contract), voteId: BigInt(v.voteId) },
    key: electionKey(x, y),
    voter: BigInt(getAddress(voter)),
    question: BigInt(v.questionHash),
    options: v.optionCount,
  };
}

/** A ballot sealed for `choice`, with how long the encryption and proof took in this browser. */
export function seal(statement: BallotStatement, choice: number): { sealed: SealedBallot; ms: number } {
  const started = performance.now();
  const sealed = encrypt(statement, choice);
  return { sealed, ms: performance.now() - started };
}

/** The ballot's hash as a bytes32 (what the voter signs and SecretBallotCast records). */
export function ballotHash(sealed: SealedBallot): string {
  return toBeHex(ballotDigest(sealed.ballot), 32);
}

/** The Benaloh check: the option a spoiled ballot encrypts, found with its own randomness
 * (throws if a ciphertext is neither 0 nor 1, or more or less than one option holds the 1). */
export function openSpoiled(statement: BallotStatement, sealed: SealedBallot): number {
  const plain = decryptSpoiled(statement.key, sealed.ballot, sealed.randomness);
  const ones = plain.flatMap((m, j) => (m === 1n ? [j] : []));
  if (ones.length !== 1) throw new RangeError(`the ballot encrypts ${ones.length} ones`);
  return ones[0] as number;
}

/** The question and options as stored, if their text is the one the vote committed to. */
export interface Asked {
  question: string;
  options: string[];
}

export function readAsked(text: string, questionHash: string): Asked | null {
  if (textHash(text) !== questionHash.toLowerCase()) return null;
  try {
    const data = JSON.parse(text) as { question?: unknown; options?: unknown };
    const { question, options } = data;
    if (typeof question !== "string" || !Array.isArray(options) || !options.every((o) => typeof o === "string")) return null;
    return { question, options: options as string[] };
  } catch {
    return null;
  }
}

export async function castSecretBallot(wallet: Wallet, v: SecretVoteOut, sealed: SealedBallot): Promise<ReceiptOut> {
  const voter = getAddress(wallet.address);
  const message = { voteId: v.voteId, voter, ballotHash: ballotHash(sealed) };
  const signature = await wallet.signTypedData(secretBallotDomain(v), SECRET_BALLOT_TYPES, message);
  const words = ballotWords(sealed.ballot).map((w) => `0x${w.toString(16)}`);
  return api<ReceiptOut>("/v1/secret-ballots", { json: { voteId: v.voteId, voter, words, signature } });
}
