// Independent EIP-712 signer (ethers 6 `Wallet.signTypedData`) for tests that prove our encoding is standard.
// Reads {privateKey, domain, types, message} as JSON on stdin (numbers may be decimal strings)
// and prints the 65-byte signature as 0x-hex, plus ethers' own digest, as JSON on stdout.
import { TypedDataEncoder, Wallet } from "ethers";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { privateKey, domain, types, message } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
// ethers derives EIP712Domain from `domain` itself and rejects it among `types`.
const { EIP712Domain: _ignored, ...structTypes } = types;
const wallet = new Wallet(privateKey);
const signature = await wallet.signTypedData(domain, structTypes, message);
const digest = TypedDataEncoder.hash(domain, structTypes, message);
process.stdout.write(JSON.stringify({ signature, digest, signer: wallet.address }) + "\n");
