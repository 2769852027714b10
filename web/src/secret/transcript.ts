// The one hash of the protocol, as ledger/secret/transcript.py computes it:
// H(words...) = uint256(keccak256(abi.encode(words))) mod r, and the ballot's challenge layout.
import { keccak256, toUtf8Bytes } from "ethers";
import { type Point, R, pointWords } from "./group";

const UINT256 = 1n << 256n;

function tag(name: string): bigint {
  return BigInt(keccak256(toUtf8Bytes(name)));
}

export const TAG_BALLOT = tag("commons.secret.ballot.v1");

/** What binds a proof to its place: chain id, the SecretBallot contract (as an integer), the vote. */
export interface VoteContext {
  chainId: bigint;
  contract: bigint;
  voteId: bigint;
}

/** abi.encode of uint256 words: each 32 bytes big-endian (RangeError outside uint256). */
export function encodeWords(words: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(32 * words.length);
  words.forEach((word, i) => {
    if (word < 0n || word >= UINT256) throw new RangeError("a word is not a uint256");
    let rest = word;
    for (let b = 31; b >= 0; b--) {
      out[32 * i + b] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  });
  return out;
}

/** keccak256 of the words' abi.encode, as an integer (not reduced). */
export function keccakWords(words: readonly bigint[]): bigint {
  return BigInt(keccak256(encodeWords(words)));
}

/** H(words...): keccak256 of their abi.encode, reduced mod r. */
export function hashWords(words: readonly bigint[]): bigint {
  return keccakWords(words) % R;
}

/** c = H(TAG_BALLOT, chainId, contract, e, Y, v, q, n, ciphertext words, commitment words). */
export function ballotChallenge(
  context: VoteContext,
  key: Point,
  voter: bigint,
  question: bigint,
  ciphertextWords: readonly bigint[],
  commitmentWords: readonly bigint[],
): bigint {
  return hashWords([
    TAG_BALLOT,
    context.chainId,
    context.contract,
    context.voteId,
    ...pointWords([key]),
    voter,
    question,
    BigInt(ciphertextWords.length / 4),
    ...ciphertextWords,
    ...commitmentWords,
  ]);
}
