// Unit checks of finding people (web/src/people.ts): what a scanned QR code may hold, and what
// the page's own QR code says. Run with node's test runner:
//   node --test web/tests/names.unit.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { importSources } from "./bundle.mjs";

globalThis.localStorage = { getItem: () => null, setItem() {}, removeItem() {} };
const m = await importSources(`export { addressFromQr, qrText } from "./people";`);

const ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"; // EIP-55's own example

test("a scanned QR code gives an address as EIP-681 or plain, checksummed", () => {
  assert.equal(m.addressFromQr(`ethereum:${ADDRESS}`), ADDRESS);
  assert.equal(m.addressFromQr(ADDRESS.toLowerCase()), ADDRESS);
  assert.equal(m.addressFromQr(` ${ADDRESS}\n`), ADDRESS);
  assert.equal(m.addressFromQr(`ethereum:${ADDRESS}@31337`), ADDRESS);
  assert.equal(m.addressFromQr(`ethereum:pay-${ADDRESS}?value=0`), ADDRESS);
  assert.equal(m.addressFromQr(`ETHEREUM:${ADDRESS}`), ADDRESS);
});

test("anything else in a QR code is not taken for an address", () => {
  for (const text of ["", "hello", `${ADDRESS}00`, ADDRESS.slice(0, 41), `bitcoin:${ADDRESS}`, `https://x.example/${ADDRESS}`]) {
    assert.equal(m.addressFromQr(text), null, text);
  }
  // A mixed-case address whose checksum is wrong is a mistyped one.
  assert.equal(m.addressFromQr(ADDRESS.replace("E", "e")), null);
});

test("the page's own QR code holds its address as EIP-681, and reads back", () => {
  const text = m.qrText(ADDRESS.toLowerCase());
  assert.equal(text, `ethereum:${ADDRESS}`);
  assert.equal(m.addressFromQr(text), ADDRESS);
});
