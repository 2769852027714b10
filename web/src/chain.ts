// What gets signed, exactly as the contracts and ledger/signing/*.py define it, and the calls
// that carry it to the relay. Signatures are made here, in the page, with the member's own key.

import {
  Interface,
  TypedDataEncoder,
  Wallet,
  getAddress,
  hexlify,
  keccak256,
  toUtf8Bytes,
  verifyTypedData,
  type InterfaceAbi,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import { api } from "./api";
import type { AckOut, ChainOut, ReceiptOut, ServiceRecordIn } from "./schemas";

export type ContractKey = "forwarder" | "registry" | "council" | "fund" | "timebank";

export interface Chain {
  chainId: number;
  addresses: Record<ContractKey, string>;
  ifaces: Record<ContractKey, Interface>;
}

// ledger/signing/ballots.py
export const BALLOT_TYPES: Record<string, TypedDataField[]> = {
  Ballot: [
    { name: "proposalId", type: "uint256" },
    { name: "voter", type: "address" },
    { name: "option", type: "uint8" },
  ],
};
// ledger/signing/services.py
export const SERVICE_TYPES: Record<string, TypedDataField[]> = {
  ServiceRecord: [
    { name: "communityId", type: "uint256" },
    { name: "provider", type: "address" },
    { name: "recipient", type: "address" },
    { name: "minutesServed", type: "uint32" },
    { name: "category", type: "bytes8" },
    { name: "noteHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
  ],
};
// ledger/forwarding.py (OpenZeppelin ERC2771Forwarder)
export const FORWARD_TYPES: Record<string, TypedDataField[]> = {
  ForwardRequest: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "gas", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint48" },
    { name: "data", type: "bytes" },
  ],
};
// ledger/signing/acks.py: the relay's signed acknowledgement.
export const ACK_TYPES: Record<string, TypedDataField[]> = {
  Acknowledgement: [
    { name: "message", type: "bytes32" },
    { name: "acceptedAt", type: "uint64" },
    { name: "landBy", type: "uint64" },
  ],
};
export const FORWARD_GAS = 1_000_000;
export const FORWARD_TTL_S = 3600;
export const COMMUNITY_ACCOUNT = "0x0000000000000000000000000000000000000000";

let cached: Promise<Chain> | null = null;

/** Chain id, contract addresses and ABIs, from the API (cached; reset on failure). */
export function chain(): Promise<Chain> {
  if (!cached) {
    cached = (async () => {
      const [info, contracts] = await Promise.all([
        api<ChainOut>("/v1/chain"),
        api<Record<ContractKey, { address: string; abi: InterfaceAbi }>>("/v1/chain/contracts"),
      ]);
      const keys = Object.keys(contracts) as ContractKey[];
      return {
        chainId: info.chainId,
        addresses: Object.fromEntries(keys.map((k) => [k, getAddress(contracts[k].address)])) as Record<
          ContractKey,
          string
        >,
        ifaces: Object.fromEntries(keys.map((k) => [k, new Interface(contracts[k].abi)])) as Record<
          ContractKey,
          Interface
        >,
      };
    })();
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}

export function textHash(text: string): string {
  return keccak256(toUtf8Bytes(text));
}

export async function bytesHash(data: ArrayBuffer): Promise<string> {
  return keccak256(new Uint8Array(data));
}

function domain(name: string, c: Chain, contract: ContractKey): TypedDataDomain {
  return { name, version: "1", chainId: c.chainId, verifyingContract: c.addresses[contract] };
}

export function ballotDomain(c: Chain): TypedDataDomain {
  return domain("CommonsCouncil", c, "council");
}

export function timebankDomain(c: Chain): TypedDataDomain {
  return domain("CommonsTimeBank", c, "timebank");
}

export function forwarderDomain(c: Chain): TypedDataDomain {
  return domain("CommonsForwarder", c, "forwarder");
}

/** The EIP-712 digest of a ballot: what BallotCast records and the receipt reports. */
export function ballotDigest(c: Chain, proposalId: number, voter: string, option: number): string {
  return TypedDataEncoder.hash(ballotDomain(c), BALLOT_TYPES, { proposalId, voter, option });
}

export async function castBallot(wallet: Wallet, proposalId: number, option: number): Promise<{ receipt: ReceiptOut; digest: string }> {
  const c = await chain();
  const voter = getAddress(wallet.address);
  const message = { proposalId, voter, option };
  const signature = await wallet.signTypedData(ballotDomain(c), BALLOT_TYPES, message);
  const receipt = await api<ReceiptOut>("/v1/ballots", {
    json: { proposalId, voter, option, signature },
  });
  return { receipt, digest: ballotDigest(c, proposalId, voter, option) };
}

/** Sign `fn(args)` on `target` as an ERC-2771 forward request and hand it to the relay. */
export async function forward(
  wallet: Wallet,
  target: ContractKey,
  fn: string,
  args: readonly unknown[],
): Promise<ReceiptOut> {
  const c = await chain();
  const from = getAddress(wallet.address);
  const data = c.ifaces[target].encodeFunctionData(fn, args);
  // The API counts the signer's requests still in its outbox, so queued requests chain up.
  const { nonce } = await api<{ nonce: number }>(`/v1/forward/nonce/${from}`);
  const deadline = Math.floor(Date.now() / 1000) + FORWARD_TTL_S;
  const message = { from, to: c.addresses[target], value: 0, gas: FORWARD_GAS, nonce, deadline, data };
  const signature = await wallet.signTypedData(forwarderDomain(c), FORWARD_TYPES, message);
  return api<ReceiptOut>("/v1/forward", { json: { ...message, signature } });
}

/** A category label as the contract's bytes8: up to 8 ASCII bytes, right-padded with zeros. */
export function categoryCode(label: string): string {
  const bytes = toUtf8Bytes(label.trim().toUpperCase());
  if (bytes.length === 0 || bytes.length > 8 || Array.from(bytes).some((b) => b > 0x7e || b < 0x20)) {
    throw new RangeError("category");
  }
  const padded = new Uint8Array(8);
  padded.set(bytes);
  return hexlify(padded);
}

export function categoryLabel(code: string): string {
  const hex = code.startsWith("0x") ? code.slice(2) : code;
  let out = "";
  for (let i = 0; i < hex.length; i += 2) {
    const b = parseInt(hex.slice(i, i + 2), 16);
    if (b === 0) break;
    out += String.fromCharCode(b);
  }
  return out;
}

export function serviceMessage(communityId: number, record: ServiceRecordIn): Record<string, unknown> {
  return { communityId, ...record, provider: getAddress(record.provider), recipient: getAddress(record.recipient) };
}

export async function signService(wallet: Wallet, communityId: number, record: ServiceRecordIn): Promise<string> {
  const c = await chain();
  return wallet.signTypedData(timebankDomain(c), SERVICE_TYPES, serviceMessage(communityId, record));
}

export function currencyBytes(code: string): string {
  if (!code) return "0x000000";
  if (!/^[A-Z]{3}$/.test(code)) throw new RangeError("currency");
  return hexlify(toUtf8Bytes(code));
}

/** Whether `ack` is signed by the relayer it names, for this chain and deployment. */
export function ackIsSigned(c: Chain, ack: AckOut): boolean {
  const domain = { name: "CommonsRelay", version: "1", chainId: c.chainId, verifyingContract: c.addresses.forwarder };
  const value = { message: ack.message, acceptedAt: ack.accepted_at, landBy: ack.land_by };
  try {
    return getAddress(verifyTypedData(domain, ACK_TYPES, value, ack.signature)) === getAddress(ack.relayer);
  } catch {
    return false;
  }
}

let session: { address: string; token: string; expiresAt: number } | null = null;

/** A token for `wallet` (sign-in with Ethereum: the server's challenge, signed with personal_sign),
 * kept in memory while it is valid. Needed where the server must know who asks, not only what
 * was signed: logging a service into someone's inbox. */
export async function signedIn(wallet: Wallet): Promise<string> {
  const address = getAddress(wallet.address);
  if (session && session.address === address && session.expiresAt > Date.now() / 1000 + 30) return session.token;
  const challenge = await api<{ nonce: string; message: string }>("/v1/auth/challenge", { json: { address } });
  const signature = await wallet.signMessage(challenge.message);
  const login = await api<{ token: string; expires_at: number }>("/v1/auth/login", { json: { nonce: challenge.nonce, signature } });
  session = { address, token: login.token, expiresAt: login.expires_at };
  return login.token;
}
