// Unit checks of the secret ballot's cryptography in the page (web/src/secret/) against the
// cross-language vectors tests/vectors/secret_ballot.json (written by `python -m tools.secret_vectors`):
// the same draws give the same words as Python's, Python's ballots verify here, tampered ones do
// not, and a spoiled ballot opens to its choice. Run with node's test runner:
//   node --test web/tests/secret.unit.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { importSources } from "./bundle.mjs";
import { keccak256, toUtf8Bytes } from "ethers";

const here = dirname(fileURLToPath(import.meta.url));
const vectors = JSON.parse(readFileSync(join(here, "..", "..", "tests", "vectors", "secret_ballot.json"), "utf8"));
const s = await importSources(`export * from "./secret/group"; export * from "./secret/transcript"; export * from "./secret/ballot";`);

const big = (hex) => BigInt(hex);
const point = ([x, y]) => s.pointFromWords(big(x), big(y));
const ctx = vectors.context;
const context = { chainId: BigInt(ctx.chainId), contract: big(ctx.contract), voteId: BigInt(ctx.voteId) };
const key = point(vectors.dkg.electionKey);
const statement = (voter, options) => ({ context, key, voter: big(voter), question: big(ctx.question), options });

// tools/secret_vectors.py's draws: the i-th scalar is keccak256(SEED ‖ uint256(i)) mod r.
const SEED = keccak256(toUtf8Bytes("commons.secret.vectors.v1"));
const seededScalar = (i) => big(keccak256(new Uint8Array([...Buffer.from(SEED.slice(2), "hex"), ...s.encodeWords([BigInt(i)])]))) % s.R;
const drawFrom = (start) => {
  let i = start;
  return () => seededScalar(i++);
};
// A ballot's first draw is rho_0, and A_0 = rho_0·g: find where in the stream each ballot began.
const firstDraw = (aZero) => {
  for (let i = 0; i < 400; i++) if (s.mul(s.G, seededScalar(i)).equals(aZero)) return i;
  throw new Error("no draw of the vectors' stream gives A_0");
};

test("the group, the tags and H are Python's", () => {
  assert.equal(s.P, big(vectors.curve.p));
  assert.equal(s.R, big(vectors.curve.r));
  assert.ok(point(vectors.curve.g).equals(s.G));
  assert.equal(s.TAG_BALLOT, big(vectors.tags.ballot));
  assert.equal(s.hashWords(vectors.hash.words.map(big)), big(vectors.hash.h));
});

test("points and scalars the contract refuses are refused", () => {
  const [gx, gy] = vectors.curve.g.map(big);
  assert.throws(() => s.pointFromWords(gx + s.P, gy), s.InvalidPoint);
  assert.throws(() => s.pointFromWords(gx, gy + 1n), s.InvalidPoint);
  assert.ok(s.pointFromWords(0n, 0n).equals(s.INFINITY));
  assert.deepEqual(s.pointWords([s.INFINITY]), [0n, 0n]);
  assert.throws(() => s.checkScalar(s.R), s.InvalidScalar);
  assert.equal(s.checkScalar(s.R - 1n), s.R - 1n);
});

test("every vector ballot verifies, and the same draws give the same words and digest", () => {
  for (const v of vectors.ballots) {
    const st = statement(v.voter, v.options);
    const words = v.words.map(big);
    const ballot = s.parseBallot(words, v.options);
    assert.ok(s.verify(st, ballot), v.why);
    assert.equal(s.ballotDigest(ballot), big(v.digest), v.why);
    const choice = Number(v.why.match(/option (\d+)|choice (\d+)/).slice(1).find(Boolean));
    const sealed = s.encrypt(st, choice, drawFrom(firstDraw(ballot.ciphertexts[0].a)));
    assert.deepEqual(s.ballotWords(sealed.ballot), words, v.why);
  }
});

test("every tampered vector fails: refused when parsed or its proof does not verify", () => {
  for (const v of vectors.tampered) {
    let verified;
    try {
      verified = s.verify(statement(v.voter, v.options), s.parseBallot(v.words.map(big), v.options));
    } catch (error) {
      assert.ok(error instanceof s.InvalidPoint || error instanceof s.InvalidScalar, `${v.why}: ${error}`);
      verified = false;
    }
    assert.equal(verified, false, v.why);
  }
  const named = (why) => vectors.tampered.find((v) => v.why === why);
  for (const why of ["x + p", "off the curve"]) {
    assert.throws(() => s.parseBallot(named(why).words.map(big), 3), s.InvalidPoint, why);
  }
  assert.throws(() => s.parseBallot(named("scalar plus r").words.map(big), 3), s.InvalidScalar);
});

test("a fresh ballot verifies only for its voter, breaks on a changed word, and opens when spoiled", () => {
  const voter = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
  const started = performance.now();
  const sealed = s.encrypt(statement(voter, 3), 2);
  const elapsed = performance.now() - started;
  console.log(`secret ballot: encrypt + prove for 3 options took ${elapsed.toFixed(1)} ms`);
  assert.ok(s.verify(statement(voter, 3), sealed.ballot));
  assert.equal(s.verify(statement("0x70997970c51812dc3a010c7d01b50e0d17dc79c9", 3), sealed.ballot), false);
  const words = s.ballotWords(sealed.ballot);
  const changed = [...words];
  changed[4 * 3 + 1] = (changed[4 * 3 + 1] + 1n) % s.R;
  assert.equal(s.verify(statement(voter, 3), s.parseBallot(changed, 3)), false);
  assert.deepEqual(s.decryptSpoiled(key, sealed.ballot, sealed.randomness), [0n, 0n, 1n]);
  assert.throws(() => s.decryptSpoiled(key, sealed.ballot, [1n, 2n, 3n]), RangeError);
  assert.throws(() => s.encrypt(statement(voter, 3), 3), RangeError);
});

// The page's side of a vote (web/src/secret_ballots.ts): what a ballot is bound to, read from
// the API's record of the vote, and the Benaloh check of a spoiled ballot. (One bundle: its points
// are not the first bundle's noble points.)
const page = await importSources(
  `export * from "./secret_ballots"; export { ballotDigest, encryptMessages, parseBallot, verify } from "./secret/ballot";`,
);
const record = {
  voteId: ctx.voteId,
  chainId: ctx.chainId,
  contract: ctx.contract,
  questionHash: ctx.question,
  optionCount: 3,
  electionKey: vectors.dkg.electionKey,
};

test("the statement read from the vote's record is the vectors' statement, and its ballots verify", () => {
  const v = vectors.ballots[0];
  const st = page.statementFor(record, v.voter);
  assert.deepEqual(st.context, context);
  assert.deepEqual([st.key.toAffine().x, st.key.toAffine().y], vectors.dkg.electionKey.map(big));
  assert.equal(st.question, big(ctx.question));
  assert.equal(st.voter, big(v.voter));
  // Python's ballot for this voter verifies under the statement the page reads.
  assert.ok(page.verify(st, page.parseBallot(v.words.map(big), 3)));
  const { sealed } = page.seal(st, 1);
  assert.ok(page.verify(st, sealed.ballot));
  assert.equal(page.ballotHash(sealed), `0x${page.ballotDigest(sealed.ballot).toString(16).padStart(64, "0")}`);
  assert.equal(page.statementFor({ ...record, electionKey: null }, v.voter), null);
});

test("a checked ballot opens to the option it holds, and one holding two ones is caught", () => {
  const st = page.statementFor(record, vectors.ballots[0].voter);
  for (const choice of [0, 1, 2]) assert.equal(page.openSpoiled(st, page.seal(st, choice).sealed), choice);
  const twoOnes = page.encryptMessages(st, [1n, 1n, 0n]);
  assert.throws(() => page.openSpoiled(st, twoOnes), RangeError);
});

test("the question is read only from the text its hash commits to", () => {
  const text = JSON.stringify({ question: "Paint the hall?", options: ["green", "blue"] });
  const hash = keccak256(toUtf8Bytes(text));
  assert.deepEqual(page.readAsked(text, hash), { question: "Paint the hall?", options: ["green", "blue"] });
  assert.equal(page.readAsked(text.replace("green", "red"), hash), null);
  assert.equal(page.readAsked("not json", keccak256(toUtf8Bytes("not json"))), null);
});
