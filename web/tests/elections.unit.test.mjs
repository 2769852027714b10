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

const proxy = await importSources(`
  export { ELECTION_PROXY_BALLOT_TYPES, electionProxyBallotDigest } from "./election_proxy_ballots";
  export { electionProxiesDomain } from "./chain";
  export { Wallet } from "ethers";
`);

test("a proxy's election ballot digest is the one Python and eth-account compute", () => {
  // ledger.signing.election_proxy_ballots.election_proxy_ballot_digest, and eth-account's
  // encode_typed_data, both give this for the same domain and message.
  const c = { chainId: 31337, addresses: { election_proxies: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } };
  const digest = proxy.electionProxyBallotDigest(
    c,
    7,
    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    m.encodeRanking([2, 0, 1]),
  );
  assert.equal(digest, "0x213c42a1154fc02917a4997ccecdd46a66fa2990696052fd53b3087847b95c62");
});

test("a proxy's election ballot signature is the one Python's sign_election_proxy_ballot makes", async () => {
  // The third anvil key, 0x3C44...93BC: deterministic ECDSA over the same digest gives the same
  // bytes, pinned in tests/ledger/test_digests.py as well.
  const wallet = new proxy.Wallet("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
  const c = { chainId: 31337, addresses: { election_proxies: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } };
  const message = { electionId: 7, voter: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", proxy: wallet.address, choices: m.encodeRanking([2, 0, 1]) };
  const signature = await wallet.signTypedData(proxy.electionProxiesDomain(c), proxy.ELECTION_PROXY_BALLOT_TYPES, message);
  assert.equal(
    signature,
    "0xec8ccb3ac0136cd45fb99cf8ad503b57fc4a84483d3efee35378eb38d17b4877784c0c3b104e44769174429540d84aad2a8ab25b1d9065eb10c613dc336617531b",
  );
});
