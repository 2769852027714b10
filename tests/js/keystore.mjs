// Independent keystore reader and writer (ethers 6) for tests that prove our key files are standard.
// Reads JSON on stdin: {op: "decrypt", json, password} prints {address, privateKey};
// {op: "encrypt", privateKey, password, n} prints the keystore JSON ethers writes (scrypt N = n).
import { Wallet, encryptKeystoreJson } from "ethers";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
if (input.op === "decrypt") {
  const wallet = await Wallet.fromEncryptedJson(input.json, input.password);
  process.stdout.write(JSON.stringify({ address: wallet.address, privateKey: wallet.privateKey }) + "\n");
} else if (input.op === "encrypt") {
  const wallet = new Wallet(input.privateKey);
  const json = await encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    input.password,
    { scrypt: { N: input.n } },
  );
  process.stdout.write(json + "\n");
} else {
  throw new Error(`unknown op ${input.op}`);
}
