// Unit checks of the page's pure pieces (money parsing, EIP-712 encodings, i18n parity, the
// audit report's canonical JSON), run with node's own test runner:
//   node --test web/tests/unit.test.mjs
// The TypeScript sources are bundled on the fly by esbuild, as the page build does.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { TypedDataEncoder, Wallet, encryptKeystoreJsonSync, keccak256, toUtf8Bytes, verifyTypedData } from "ethers";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
globalThis.localStorage = {
  store: new Map(),
  getItem(k) {
    return this.store.has(k) ? this.store.get(k) : null;
  },
  setItem(k, v) {
    this.store.set(k, String(v));
  },
  removeItem(k) {
    this.store.delete(k);
  },
};

const entry = `
export { parseMoney } from "./ui";
export { categoryCode, categoryLabel, textHash, currencyBytes, BALLOT_TYPES, SERVICE_TYPES, FORWARD_TYPES, ACK_TYPES } from "./chain";
export { DOMAINS, TYPE_STRINGS } from "./protocol";
export { canonicalJson } from "./views/audit";
export { KEYS, t, setLang } from "./i18n";
export { importKeystore, KeyError } from "./keys";
`;
const built = await esbuild.build({
  stdin: { contents: entry, resolveDir: src, loader: "ts" },
  bundle: true,
  format: "esm",
  platform: "browser",
  write: false,
  logLevel: "silent",
});
const m = await import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString("base64")}`);

test("money in major units becomes integer minor units, without floating point", () => {
  assert.equal(m.parseMoney("1000.00"), 100000);
  assert.equal(m.parseMoney("1,000.5"), 100050);
  assert.equal(m.parseMoney(" 600 "), 60000);
  assert.equal(m.parseMoney("0.07"), 7);
  assert.equal(m.parseMoney("19.99"), 1999);
  assert.equal(m.parseMoney("12.345"), null, "a third decimal is refused, not rounded");
  assert.equal(m.parseMoney("-5"), null);
  assert.equal(m.parseMoney("abc"), null);
  assert.equal(m.parseMoney("99999999999999"), null, "beyond what a JS number holds exactly in minor units");
});

test("a category becomes the contract's bytes8 and back", () => {
  assert.equal(m.categoryCode("care"), "0x4341524500000000");
  assert.equal(m.categoryLabel("0x5245504149520000"), "REPAIR");
  assert.throws(() => m.categoryCode("TOOLONGNAME"), RangeError);
  assert.throws(() => m.categoryCode(""), RangeError);
});

test("a proposal's text hash is keccak256 of its UTF-8 bytes", () => {
  const text = "在3号楼后面建一个社区菜园。\nBudget: 1,000.00";
  assert.equal(m.textHash(text), keccak256(toUtf8Bytes(text)));
});

test("a currency is three upper-case ASCII letters as bytes3", () => {
  assert.equal(m.currencyBytes("CNY"), "0x434e59");
  assert.equal(m.currencyBytes(""), "0x000000");
  assert.throws(() => m.currencyBytes("cny"), RangeError);
});

test("the EIP-712 types are the ones the contracts hash", () => {
  const encode = (types, primary) => TypedDataEncoder.from(types).encodeType(primary);
  assert.equal(encode(m.BALLOT_TYPES, "Ballot"), "Ballot(uint256 proposalId,address voter,uint8 option)");
  assert.equal(
    encode(m.SERVICE_TYPES, "ServiceRecord"),
    "ServiceRecord(uint256 communityId,address provider,address recipient,uint32 minutesServed,bytes8 category,bytes32 noteHash,uint256 nonce)",
  );
  assert.equal(
    encode(m.FORWARD_TYPES, "ForwardRequest"),
    "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)",
  );
});

test("the page's EIP-712 types and domains are the generated protocol's", () => {
  const encode = (types, primary) => TypedDataEncoder.from(types).encodeType(primary);
  assert.equal(encode(m.BALLOT_TYPES, "Ballot"), m.TYPE_STRINGS.Ballot);
  assert.equal(encode(m.SERVICE_TYPES, "ServiceRecord"), m.TYPE_STRINGS.ServiceRecord);
  assert.equal(encode(m.FORWARD_TYPES, "ForwardRequest"), m.TYPE_STRINGS.ForwardRequest);
  assert.equal(encode(m.ACK_TYPES, "Acknowledgement"), m.TYPE_STRINGS.Acknowledgement);
  assert.deepEqual(m.DOMAINS.Council, { name: "CommonsCouncil", version: "1" });
});

test("a ballot signed with these types recovers to its voter", async () => {
  const wallet = Wallet.createRandom();
  const domain = { name: "CommonsCouncil", version: "1", chainId: 31337, verifyingContract: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" };
  const ballot = { proposalId: 4, voter: wallet.address, option: 0 };
  const signature = await wallet.signTypedData(domain, m.BALLOT_TYPES, ballot);
  assert.equal(verifyTypedData(domain, m.BALLOT_TYPES, ballot, signature), wallet.address);
  // low-s, as the contract and the relay require
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  assert.ok(s <= 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n);
});

test("canonical JSON matches Python's json.dumps(sort_keys=True, separators=(',', ':'))", () => {
  assert.equal(m.canonicalJson({ b: 1, a: [true, null, "é"], c: { z: "x", y: 2 } }), '{"a":[true,null,"\\u00e9"],"b":1,"c":{"y":2,"z":"x"}}');
});

test("every text exists in both languages and differs where it should", () => {
  m.setLang("zh");
  const zh = Object.fromEntries(m.KEYS.map((k) => [k, m.t(k)]));
  m.setLang("en");
  const en = Object.fromEntries(m.KEYS.map((k) => [k, m.t(k)]));
  for (const k of m.KEYS) {
    assert.ok(zh[k] && en[k], `missing text for ${k}`);
  }
  assert.equal(m.t("tb.minutes", { n: 30 }), "30 min");
  m.setLang("zh");
  assert.equal(m.t("tb.minutes", { n: 30 }), "30 分钟");
});

test("keystore import calls only a wrong password a wrong password", async () => {
  const { address, privateKey } = Wallet.createRandom();
  const keystore = encryptKeystoreJsonSync({ address, privateKey }, "the right password", { scrypt: { N: 1024 } });
  await assert.rejects(
    m.importKeystore(keystore, "not the password", "label", "a local passphrase"),
    (error) => error instanceof m.KeyError && error.code === "WrongPassphrase",
  );
  // A file that is not a keystore is not the person's mistake with a password.
  await assert.rejects(
    m.importKeystore('{"not": "a keystore"}', "the right password", "label", "a local passphrase"),
    (error) => !(error instanceof m.KeyError),
  );
});
