// Unit checks of the page's pure pieces (money parsing, EIP-712 encodings, i18n parity, the
// audit report's signature check), run with node's own test runner:
//   node --test web/tests/unit.test.mjs
// The TypeScript sources are bundled on the fly by esbuild, as the page build does.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { importSources } from "./bundle.mjs";
import { TypedDataEncoder, Wallet, encryptKeystoreJsonSync, keccak256, toUtf8Bytes, verifyTypedData } from "ethers";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
const repo = join(src, "..", "..");
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
export { keptChoices } from "./drafts";
export { categoryCode, categoryLabel, textHash, currencyBytes, forwardDeadline, BALLOT_TYPES, SERVICE_TYPES, FORWARD_TYPES, ACK_TYPES, FORWARD_TTL_S } from "./chain";
export { DOMAINS, TYPE_STRINGS } from "./protocol";
export { verifySignature } from "./views/audit";
export { KEYS, t, setLang } from "./i18n";
export { importKeystore, storeKey, KeyError, withFullCounter } from "./keys";
export { ERRORS } from "./protocol";
export { API_CODES, REASON, REASONS, codeIn, reasonOf } from "./errors";
export { failure } from "./ui";
export { ApiError } from "./api";
`;
const m = await importSources(entry);

test("a forward request's deadline follows the chain's clock where it is ahead, by 40 days at most", () => {
  const wall = 1_800_000_000;
  const day = 86_400;
  assert.equal(m.forwardDeadline(wall, wall - 2 * day), wall + m.FORWARD_TTL_S, "a chain behind: the device's clock");
  assert.equal(m.forwardDeadline(wall, wall + 30 * day), wall + 30 * day + m.FORWARD_TTL_S, "a chain a month ahead");
  assert.equal(m.forwardDeadline(wall, wall + 400 * day), wall + 40 * day + m.FORWARD_TTL_S, "an API claiming a far future");
});

test("a kept ranking comes back only as distinct candidates of the ballot", () => {
  assert.deepEqual(m.keptChoices("2,0,1", 3), [2, 0, 1]);
  assert.deepEqual(m.keptChoices("", 3), []);
  assert.equal(m.keptChoices("0,3", 3), null, "no candidate 3");
  assert.equal(m.keptChoices("1,1", 3), null, "a candidate twice");
  assert.equal(m.keptChoices("0,x", 3), null);
  assert.equal(m.keptChoices("-1", 3), null);
});

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

test("the report's signature is checked over the signed text: valid, edited, unsigned", async () => {
  const { generateKeyPairSync, sign } = await import("node:crypto");
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  // 2.0 and an integer above 2^53: what a JSON round trip in the browser would have changed.
  const text = '{"a":[true,null,"\\u00e9"],"b":2.0,"c":{"big":123456789012345678901}}';
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const block = { algorithm: "Ed25519", public_key: raw.toString("base64"), value: sign(null, Buffer.from(text), privateKey).toString("base64") };
  assert.equal(await m.verifySignature(block, text), "valid");
  assert.equal(await m.verifySignature(block, text.replace("2.0", "3.0")), "invalid");
  assert.equal(await m.verifySignature(null, text), "unsigned");
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

// Made by Python's eth-account (Account.encrypt, scrypt n = 2), which wrote its 16-byte AES-CTR
// counter as 15 bytes: the counter's first byte is zero.
const SHORT_COUNTER = JSON.stringify({
  address: "19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A",
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "296d0376d004d51d7211bda587087a" },
    ciphertext: "a420c283c990acba136722af3f2be2869aad958fc679a5f6b152491f84f62865",
    kdf: "scrypt",
    kdfparams: { dklen: 32, n: 2, r: 8, p: 1, salt: "4fa56c14c98c7bfe9c19c52c61565bb3" },
    mac: "3415d49e9357522b3be4723c50707098f263a47d3232f7e4f46c89e733cfcda7",
  },
  id: "1a492c4f-47a4-4d57-96da-6b1519cc5f9e",
  version: 3,
});

test("a keystore whose counter Python wrote without its leading zero byte opens", async () => {
  await assert.rejects(Wallet.fromEncryptedJson(SHORT_COUNTER, "short counter"));
  const wallet = await Wallet.fromEncryptedJson(m.withFullCounter(SHORT_COUNTER), "short counter");
  assert.equal(wallet.address, "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A");
  assert.equal(wallet.privateKey, `0x${"11".repeat(32)}`);
  const full = encryptKeystoreJsonSync(Wallet.createRandom(), "x", { scrypt: { N: 2 } });
  assert.equal(m.withFullCounter(full), full);
});

const CJK = /[\u4e00-\u9fff]/;

function textsOf(reason, lang) {
  m.setLang(lang);
  return [m.t(`why.${reason}`), m.t(`todo.${reason}`)];
}

test("every contract error has words for what happened and what to do, in both languages", () => {
  const missing = [];
  for (const code of [...m.ERRORS, ...m.API_CODES]) {
    const reason = m.REASON[code];
    if (!reason) {
      missing.push(`${code}: no reason`);
      continue;
    }
    const [zhWhy, zhTodo] = textsOf(reason, "zh");
    const [enWhy, enTodo] = textsOf(reason, "en");
    for (const [text, lang] of [[zhWhy, "zh"], [zhTodo, "zh"], [enWhy, "en"], [enTodo, "en"]]) {
      if (!text || text.startsWith("why.") || text.startsWith("todo.")) missing.push(`${code} (${reason}): no ${lang} text`);
      else if ((lang === "zh") !== CJK.test(text)) missing.push(`${code} (${reason}): ${lang} text in the wrong language: ${text}`);
      else if (text.includes(code)) missing.push(`${code}: the code itself is in the plain words`);
    }
  }
  m.setLang("zh");
  assert.deepEqual(missing, []);
  assert.ok(m.ERRORS.length > 50, "the generated protocol's error list is read");
  for (const reason of m.REASONS) assert.ok(Object.values(m.REASON).includes(reason), `reason ${reason} is used`);
});

test("every refusal code the API and the relay answer with has a reason", () => {
  // The codes are read from the server's sources, so a new one without words here fails.
  const py = (dir) => readdirSync(join(repo, dir), { recursive: true }).filter((f) => f.endsWith(".py")).map((f) => readFileSync(join(repo, dir, f), "utf8"));
  const sources = [...py("api"), ...py("ledger")].join("\n");
  const codes = new Set();
  for (const re of [/ApiError\(\s*\d+,\s*"(\w+)"/g, /InvalidMessage\(\s*"(\w+)"/g, /QuotaExceeded\(\s*"(\w+)"/g, /error_response\(\s*\d+,\s*"(\w+)"/g]) {
    for (const match of sources.matchAll(re)) codes.add(match[1]);
  }
  const statuses = readFileSync(join(repo, "ledger", "protocol", "statuses.py"), "utf8");
  const relay = statuses.slice(statuses.indexOf("RELAY_REFUSALS"));
  for (const match of relay.matchAll(/^\s+"(\w+)": /gm)) codes.add(match[1]);
  assert.ok(codes.size > 30, `found the server's codes (${codes.size})`);
  const unknown = [...codes].filter((c) => !(c in m.REASON));
  assert.deepEqual(unknown, []);
});

test("a refusal says what happened and what to do; its code is kept apart for the details", () => {
  m.setLang("zh");
  const zh = m.failure(new m.ApiError(422, "VoterNotOnRoll", "VoterNotOnRoll(voter=0xabc)"));
  assert.equal(zh.code, "VoterNotOnRoll");
  assert.ok(zh.what.includes("名册") && zh.todo.includes("社区办公室"), `${zh.what} ${zh.todo}`);
  assert.ok(!zh.what.includes("VoterNotOnRoll") && !zh.todo.includes("VoterNotOnRoll"));
  m.setLang("en");
  const en = m.failure(new m.ApiError(422, "VotingNotClosed", ""));
  assert.ok(en.what.includes("not ended") && en.todo.includes("closing time"), `${en.what} ${en.todo}`);
  // A code the page has never met is still worded, by its HTTP status.
  assert.equal(m.reasonOf("SomethingNew", 429), "busy");
  assert.equal(m.reasonOf("SomethingNew", 503), "server");
  assert.equal(m.reasonOf("SomethingNew", 422), "pageFault");
  assert.equal(m.codeIn("reverted: NotEnoughApprovals(2, 1)"), "NotEnoughApprovals");
  m.setLang("zh");
});

test("mismatched passphrases and a malformed raw key are said as such, not as unexpected or missing", async () => {
  m.setLang("en");
  const mismatch = m.failure(new m.KeyError("Mismatch"));
  assert.ok(/not the same/.test(mismatch.what) && !/unexpected/i.test(mismatch.what), mismatch.what);
  await assert.rejects(m.storeKey("0x1234 not a key", "label", "a local passphrase"), (error) => error instanceof m.KeyError && error.code === "InvalidKey");
  const invalid = m.failure(new m.KeyError("InvalidKey"));
  assert.ok(/not a valid private key/.test(invalid.what) && !/no key/i.test(invalid.what), invalid.what);
  m.setLang("zh");
});
