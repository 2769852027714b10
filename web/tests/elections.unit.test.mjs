// Unit checks of the page's election ballots (web/src/election_ballots.ts): `choices` encoded as
// IElections' NatSpec says (the same figures as ledger/signing/election_ballots.py gives), and
// the ballot's JSON body carrying a uint64 past 2^53 digit for digit. Run with node's test runner:
//   node --test web/tests/elections.unit.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { importSources } from "./bundle.mjs";

globalThis.localStorage = { getItem: () => null, setItem() {}, removeItem() {} };
const m = await importSources(`export { encodeApproval, encodeRanking } from "./election_ballots";`);

test("a ranking is 16 nibbles, low first, its last candidate repeated", () => {
  assert.equal(m.encodeRanking([1, 3, 2]), 0x2222222222222231n); // IElections' own example
  assert.equal(m.encodeRanking([2, 0]), 2n); // IElections: [2, 0] is 0x0000000000000002
  assert.equal(m.encodeRanking([15]), 2n ** 64n - 1n);
  assert.equal(m.encodeRanking([1, 3, 2]).toString(), "2459565876494606897"); // as Python encodes it
});

test("an approval is a bitmap", () => {
  assert.equal(m.encodeApproval([0, 2, 15]), 32773n);
  assert.equal(m.encodeApproval([]), 0n);
});

test("a ranking that no ballot can be is refused before anything is signed", () => {
  assert.throws(() => m.encodeRanking([]), RangeError);
  assert.throws(() => m.encodeRanking([16]), RangeError);
  assert.throws(() => m.encodeRanking(Array.from({ length: 17 }, (_, i) => i % 16)), RangeError);
  assert.throws(() => m.encodeApproval([16]), RangeError);
});
