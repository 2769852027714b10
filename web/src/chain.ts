// What gets signed, exactly as the contracts define it (protocol.ts), and the calls
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
import { DOMAINS, EIP712_FIELDS, FORWARD_GAS } from "./protocol";
import type { AckOut, ChainOut, LoginOut, ReceiptOut, ServiceRecordIn } from "./schemas";

export type ContractKey = "forwarder" | "registry" | "council" | "fund" | "timebank" | "initiatives" | "ratings" | "elections" | "election_proxies" | "mandates" | "poll_office" | "budget" | "secret";

export interface Chain {
  chainId: number;
  addresses: Record<ContractKey, string>;
  ifaces: Record<ContractKey, Interface>;
}

// EIP-712 types as the contracts declare them (protocol.ts is generated from the build).
export const BALLOT_TYPES: Record<string, TypedDataField[]> = { Ballot: EIP712_FIELDS.Ballot };
export const SERVICE_TYPES: Record<string, TypedDataField[]> = { ServiceRecord: EIP712_FIELDS.ServiceRecord };
export const FORWARD_TYPES: Record<string, TypedDataField[]> = { ForwardRequest: EIP712_FIELDS.ForwardRequest };
// The relay's signed acknowledgement (ledger/signing/acks.py).
export const ACK_TYPES: Record<string, TypedDataField[]> = { Acknowledgement: EIP712_FIELDS.Acknowledgement };
export const FORWARD_TTL_S = 3600;
const CHAIN_AHEAD_MAX_S = 40 * 86_400;
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

function domain(of: keyof typeof DOMAINS, c: Chain, contract: ContractKey): TypedDataDomain {
  const { name, version } = DOMAINS[of];
  return { name, version, chainId: c.chainId, verifyingContract: c.addresses[contract] };
}

export function ballotDomain(c: Chain): TypedDataDomain {
  return domain("Council", c, "council");
}

export function electionDomain(c: Chain): TypedDataDomain {
  return domain("Elections", c, "elections");
}

export function electionProxiesDomain(c: Chain): TypedDataDomain {
  return domain("ElectionProxies", c, "election_proxies");
}

export function mandatesDomain(c: Chain): TypedDataDomain {
  return domain("Mandates", c, "mandates");
}

export function timebankDomain(c: Chain): TypedDataDomain {
  return domain("TimeBank", c, "timebank");
}

export function forwarderDomain(c: Chain): TypedDataDomain {
  return domain("CommonsForwarder", c, "forwarder");
}

/** The relay signs acknowledgements under its own domain, with the forwarder as contract. */
function relayDomain(c: Chain): TypedDataDomain {
  return domain("Relay", c, "forwarder");
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

/** `fn(args)` on `target` signed as an ERC-2771 forward request, as the relay takes it. */
export async function signForward(
  wallet: Wallet,
  target: ContractKey,
  fn: string,
  args: readonly unknown[],
  gas: number = FORWARD_GAS.default,
): Promise<Record<string, unknown>> {
  const c = await chain();
  const from = getAddress(wallet.address);
  const data = c.ifaces[target].encodeFunctionData(fn, args);
  // The API counts the signer's requests still in its outbox, so queued requests chain up.
  const { nonce } = await api<{ nonce: number }>(`/v1/forward/nonce/${from}`);
  const { headTimestamp } = await api<ChainOut>("/v1/chain");
  const deadline = forwardDeadline(Math.floor(Date.now() / 1000), headTimestamp);
  const message = { from, to: c.addresses[target], value: 0, gas, nonce, deadline, data };
  const signature = await wallet.signTypedData(forwarderDomain(c), FORWARD_TYPES, message);
  return { ...message, signature };
}

/** A forward request's deadline, FORWARD_TTL_S from now. The forwarder judges it by
 * block.timestamp, which a test chain or the demo's fast clock may have moved ahead of this
 * device's clock (`wall`): the chain's time (`chainNow`, the API's head) counts where it is ahead,
 * but no more than CHAIN_AHEAD_MAX_S, so an API that lies about it cannot make a signed request
 * live long. */
export function forwardDeadline(wall: number, chainNow: number): number {
  return Math.max(wall, Math.min(chainNow, wall + CHAIN_AHEAD_MAX_S)) + FORWARD_TTL_S;
}

/** Sign `fn(args)` on `target` as an ERC-2771 forward request and hand it to the relay. */
export async function forward(
  wallet: Wallet,
  target: ContractKey,
  fn: string,
  args: readonly unknown[],
): Promise<ReceiptOut> {
  return api<ReceiptOut>("/v1/forward", { json: await signForward(wallet, target, fn, args) });
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
  const value = { message: ack.message, acceptedAt: ack.acceptedAt, landBy: ack.landBy };
  try {
    return getAddress(verifyTypedData(relayDomain(c), ACK_TYPES, value, ack.signature)) === getAddress(ack.relayer);
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
  const login = await api<LoginOut>("/v1/auth/login", { json: { nonce: challenge.nonce, signature } });
  session = { address, token: login.token, expiresAt: login.expiresAt };
  return login.token;
}
