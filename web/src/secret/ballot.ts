// A secret ballot, as ledger/secret/ballot.py builds and checks it: one exponential-ElGamal
// ciphertext per option under the election key Y, a disjunctive Chaum-Pedersen proof per option
// that it encrypts 0 or 1, and a proof that the options add up to 1, under one Fiat-Shamir
// challenge. Words as sent (7n + 2): A_0.x, A_0.y, B_0.x, B_0.y, ..., then c, (c0_j, z0_j, z1_j)
// for each option, z_s.
import {
  type Draw,
  G,
  INFINITY,
  type Point,
  R,
  checkScalar,
  mod,
  mul,
  mulPublic,
  pointFromWords,
  pointWords,
  randomScalar,
} from "./group";
import { type VoteContext, ballotChallenge, keccakWords } from "./transcript";

export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 8;

/** What a ballot's proof is about besides its ciphertexts. */
export interface BallotStatement {
  context: VoteContext;
  key: Point;
  voter: bigint;
  question: bigint;
  options: number;
}

export interface Ciphertext {
  a: Point;
  b: Point;
}

/** One option's responses: branch 0's challenge and both responses (branch 1's challenge is c - c0). */
export interface OptionProof {
  c0: bigint;
  z0: bigint;
  z1: bigint;
}

export interface Ballot {
  ciphertexts: Ciphertext[];
  challenge: bigint;
  optionProofs: OptionProof[];
  zSum: bigint;
}

/** A ballot with the randomness rho_j of each ciphertext: kept by the voter only to spoil it. */
export interface SealedBallot {
  ballot: Ballot;
  randomness: bigint[];
}

export function wordCount(options: number): number {
  return 7 * options + 2;
}

function checkStatement(statement: BallotStatement): void {
  if (statement.options < MIN_OPTIONS || statement.options > MAX_OPTIONS) {
    throw new RangeError(`a secret ballot has ${MIN_OPTIONS}..${MAX_OPTIONS} options`);
  }
  // Under the point at infinity B_j = m_j·g: the vote would be in clear.
  if (statement.key.equals(INFINITY)) throw new RangeError("the election key is the point at infinity");
}

function ciphertextWords(ciphertexts: readonly Ciphertext[]): bigint[] {
  return pointWords(ciphertexts.flatMap((ct) => [ct.a, ct.b]));
}

function proofWords(ballot: Ballot): bigint[] {
  const responses = ballot.optionProofs.flatMap((op) => [op.c0, op.z0, op.z1]);
  return [ballot.challenge, ...responses, ballot.zSum];
}

/** The ballot as calldata words: ciphertexts, then the proof. */
export function ballotWords(ballot: Ballot): bigint[] {
  return [...ciphertextWords(ballot.ciphertexts), ...proofWords(ballot)];
}

/** keccak256 of the ballot's words (abi.encode), the value the voter signs. */
export function ballotDigest(ballot: Ballot): bigint {
  return keccakWords(ballotWords(ballot));
}

/** A ballot read from untrusted words, every point and scalar checked (InvalidPoint, InvalidScalar). */
export function parseBallot(words: readonly bigint[], options: number): Ballot {
  if (words.length !== wordCount(options)) throw new RangeError(`a ballot of ${options} options has ${wordCount(options)} words`);
  const at = (i: number): bigint => words[i] as bigint;
  const ciphertexts = Array.from({ length: options }, (_, j) => ({
    a: pointFromWords(at(4 * j), at(4 * j + 1)),
    b: pointFromWords(at(4 * j + 2), at(4 * j + 3)),
  }));
  const proof = words.slice(4 * options).map(checkScalar);
  const p = (i: number): bigint => proof[i] as bigint;
  const optionProofs = Array.from({ length: options }, (_, j) => ({ c0: p(1 + 3 * j), z0: p(2 + 3 * j), z1: p(3 + 3 * j) }));
  return { ciphertexts, challenge: p(0), optionProofs, zSum: p(proof.length - 1) };
}

/** The ballot for option `choice` (0-based), with its proof. */
export function encrypt(statement: BallotStatement, choice: number, draw: Draw = randomScalar): SealedBallot {
  if (!Number.isInteger(choice) || choice < 0 || choice >= statement.options) {
    throw new RangeError(`choice ${choice} is not one of ${statement.options} options`);
  }
  return encryptMessages(statement, Array.from({ length: statement.options }, (_, j) => (j === choice ? 1n : 0n)), draw);
}

interface OptionSecrets {
  real: 0 | 1;
  rho: bigint;
  w: bigint;
  cFake: bigint;
  zFake: bigint;
}

/** The prover on any plaintext vector, drawing per option rho_j, w_j, c_j, z_j, then w_s, in
 * Python's order so the same draws give the same words. Only one 1 among 0s gives a proof that
 * verifies. */
export function encryptMessages(statement: BallotStatement, messages: readonly bigint[], draw: Draw = randomScalar): SealedBallot {
  checkStatement(statement);
  if (messages.length !== statement.options) throw new RangeError(`${messages.length} messages for ${statement.options} options`);
  const y = statement.key;
  const ciphertexts: Ciphertext[] = [];
  const commitments: Point[] = [];
  const secrets: OptionSecrets[] = [];
  for (const m of messages) {
    const rho = draw();
    const w = draw();
    const cFake = draw();
    const zFake = draw();
    const a = mul(G, rho);
    const b = mul(G, m).add(mul(y, rho));
    const real: 0 | 1 = m === 0n ? 0 : 1;
    const fake = 1n - BigInt(real);
    const simulated: [Point, Point] = [
      mul(G, zFake).add(mul(a, -cFake)),
      mul(y, zFake).add(mul(b.subtract(mul(G, fake)), -cFake)),
    ];
    const honest: [Point, Point] = [mul(G, w), mul(y, w)];
    commitments.push(...(real === 0 ? [...honest, ...simulated] : [...simulated, ...honest]));
    ciphertexts.push({ a, b });
    secrets.push({ real, rho, w, cFake, zFake });
  }
  const wSum = draw();
  commitments.push(mul(G, wSum), mul(y, wSum));
  const c = ballotChallenge(statement.context, y, statement.voter, statement.question, ciphertextWords(ciphertexts), pointWords(commitments));
  const optionProofs = secrets.map(({ real, rho, w, cFake, zFake }) => {
    const cReal = mod(c - cFake);
    const zReal = mod(w + cReal * rho);
    return real === 0 ? { c0: cReal, z0: zReal, z1: zFake } : { c0: cFake, z0: zFake, z1: zReal };
  });
  const rhoSum = secrets.reduce((sum, s) => sum + s.rho, 0n);
  const ballot = { ciphertexts, challenge: c, optionProofs, zSum: mod(wSum + c * rhoSum) };
  return { ballot, randomness: secrets.map((s) => s.rho) };
}

/** The prover's commitments as the verifier rebuilds them from the responses. */
function recomputeCommitments(statement: BallotStatement, ballot: Ballot): Point[] {
  const y = statement.key;
  const c = ballot.challenge;
  const commitments: Point[] = [];
  let sumA = INFINITY;
  let sumB = INFINITY;
  ballot.ciphertexts.forEach((ct, j) => {
    const op = ballot.optionProofs[j] as OptionProof;
    const c1 = mod(c - op.c0);
    commitments.push(
      mulPublic(G, op.z0).add(mulPublic(ct.a, R - op.c0)),
      mulPublic(y, op.z0).add(mulPublic(ct.b, R - op.c0)),
      mulPublic(G, op.z1).add(mulPublic(ct.a, R - c1)),
      mulPublic(y, op.z1).add(mulPublic(ct.b.subtract(G), R - c1)),
    );
    sumA = sumA.add(ct.a);
    sumB = sumB.add(ct.b);
  });
  commitments.push(
    mulPublic(G, ballot.zSum).add(mulPublic(sumA, R - c)),
    mulPublic(y, ballot.zSum).add(mulPublic(sumB.subtract(G), R - c)),
  );
  return commitments;
}

/** Whether `ballot` proves it encrypts one 1 among 0s under the statement's key, for this voter and vote. */
export function verify(statement: BallotStatement, ballot: Ballot): boolean {
  checkStatement(statement);
  if (ballot.ciphertexts.length !== statement.options || ballot.optionProofs.length !== statement.options) return false;
  if (proofWords(ballot).some((word) => word < 0n || word >= R)) return false;
  const expected = ballotChallenge(
    statement.context,
    statement.key,
    statement.voter,
    statement.question,
    ciphertextWords(ballot.ciphertexts),
    pointWords(recomputeCommitments(statement, ballot)),
  );
  return expected === ballot.challenge;
}

/** The Benaloh check of a spoiled ballot: with each option's rho revealed, B_j - rho_j·Y must be
 * 0 or g; returns the plaintexts (0n or 1n), or throws if a ciphertext is neither. */
export function decryptSpoiled(key: Point, ballot: Ballot, randomness: readonly bigint[]): bigint[] {
  if (randomness.length !== ballot.ciphertexts.length) throw new RangeError("one rho for each option");
  return ballot.ciphertexts.map((ct, j) => {
    const rho = randomness[j] as bigint;
    if (!mul(G, rho).equals(ct.a)) throw new RangeError(`option ${j}: A is not rho·g`);
    const message = ct.b.subtract(mul(key, rho));
    if (message.equals(INFINITY)) return 0n;
    if (message.equals(G)) return 1n;
    throw new RangeError(`option ${j} encrypts neither 0 nor 1`);
  });
}
