// Signs EIP-712 typed data with ethers.js — an implementation independent of ours — so tests
// can prove our encoding is the standard one. stdin: {"privateKey", "domain", "types",
// "primaryType", "message"} (types without EIP712Domain); stdout: the 65-byte signature as hex.
import { readFileSync } from "node:fs";
import { Wallet } from "ethers";

const input = JSON.parse(readFileSync(0, "utf8"));
const types = { ...input.types };
delete types.EIP712Domain;
const wallet = new Wallet(input.privateKey);
const signature = await wallet.signTypedData(input.domain, types, input.message);
process.stdout.write(signature + "\n");
