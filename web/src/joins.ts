// Join requests: a resident's EIP-712 JoinRequest (ledger/signing/joins.py says why it exists),
// signed in this page, shown as a short code and a QR code carrying the whole signed request, and
// checked here again by the registrar's page: the API that stores requests is not trusted.

import { Signature, TypedDataEncoder, getAddress, verifyTypedData, type TypedDataDomain, type TypedDataField, type Wallet } from "ethers";
import { api } from "./api";
import { chain, type Chain } from "./chain";
import { DOMAINS, EIP712_FIELDS } from "./protocol";
import type { JoinOut, JoinRequestIn } from "./schemas";

export const JOIN_TYPES: Record<string, TypedDataField[]> = { JoinRequest: EIP712_FIELDS.JoinRequest };
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
// What a person may type: any case, dashes and spaces, O for 0, I or L for 1.
const READ_AS: Record<string, string> = { O: "0", I: "1", L: "1" };
const STORE = "commons.joins";
// Half the secp256k1 group order: a signature's s above it is the twin of a low-s one, which every
// signer makes; the API refuses it (ledger/signing/eip712.py `to_compact`), and so does the page.
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export function joinDomain(c: Chain): TypedDataDomain {
  const { name, version } = DOMAINS.Join;
  return { name, version, chainId: c.chainId, verifyingContract: c.addresses.registry };
}

function message(req: JoinRequestIn): Record<string, unknown> {
  return { communityId: req.communityId, resident: getAddress(req.resident), issuedAt: req.issuedAt };
}

export function joinDigest(c: Chain, req: JoinRequestIn): string {
  return TypedDataEncoder.hash(joinDomain(c), JOIN_TYPES, message(req));
}

/** The digest's first 40 bits as 8 Crockford base32 characters, XXXX-XXXX. */
export function shortCode(digest: string): string {
  let bits = BigInt(`0x${digest.slice(2, 12)}`);
  let out = "";
  for (let i = 0; i < 8; i++) {
    out = CROCKFORD[Number(bits & 31n)] + out;
    bits >>= 5n;
  }
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

/** A code as typed, in its XXXX-XXXX form; null when it is not one. */
export function readCode(text: string): string | null {
  const chars = Array.from(text.toUpperCase().replace(/[\s-]/g, ""), (c) => READ_AS[c] ?? c);
  if (chars.length !== 8 || chars.some((c) => !CROCKFORD.includes(c))) return null;
  return `${chars.slice(0, 4).join("")}-${chars.slice(4).join("")}`;
}

export async function signJoin(wallet: Wallet, communityId: number): Promise<JoinRequestIn> {
  const c = await chain();
  const req = { communityId, resident: getAddress(wallet.address), issuedAt: Math.floor(Date.now() / 1000), signature: "" };
  return { ...req, signature: await wallet.signTypedData(joinDomain(c), JOIN_TYPES, message(req)) };
}

export class JoinRefused extends Error {
  constructor(readonly why: "format" | "signature" | "community") {
    super(why);
  }
}

/** The request's digest once its signature is its resident's own, for this chain, Registry and
 * community; JoinRefused otherwise. */
export function checkJoin(c: Chain, req: JoinRequestIn, communityId: number): string {
  if (req.communityId !== communityId) throw new JoinRefused("community");
  let signer: string;
  try {
    if (BigInt(Signature.from(req.signature).s) > HALF_N) throw new JoinRefused("signature");
    signer = verifyTypedData(joinDomain(c), JOIN_TYPES, message(req), req.signature);
  } catch {
    throw new JoinRefused("signature");
  }
  if (getAddress(signer) !== getAddress(req.resident)) throw new JoinRefused("signature");
  return joinDigest(c, req);
}

/** What the QR code carries: the request as the API takes it, in compact JSON. */
export function joinQrText(req: JoinRequestIn): string {
  return JSON.stringify({ communityId: req.communityId, resident: req.resident, issuedAt: req.issuedAt, signature: req.signature });
}

export function parseJoinQr(text: string): JoinRequestIn {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new JoinRefused("format");
  }
  const d = data as Partial<Record<keyof JoinRequestIn, unknown>>;
  if (
    typeof d !== "object" || d === null ||
    typeof d.communityId !== "number" || typeof d.issuedAt !== "number" ||
    typeof d.resident !== "string" || typeof d.signature !== "string"
  ) {
    throw new JoinRefused("format");
  }
  return { communityId: d.communityId, resident: d.resident, issuedAt: d.issuedAt, signature: d.signature };
}

export function sendJoin(req: JoinRequestIn): Promise<JoinOut> {
  return api<JoinOut>(`/v1/communities/${req.communityId}/joins`, { json: req });
}

export function lookupJoin(communityId: number, code: string): Promise<JoinOut | null> {
  return api<JoinOut | null>(`/v1/communities/${communityId}/joins/${encodeURIComponent(code)}`, { allow404: true });
}

// The resident's own requests, kept in this browser so the code and QR can be shown again
// without unlocking the key (a request is public: it holds no secret).
function stored(): Record<string, JoinRequestIn> {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "{}") as Record<string, JoinRequestIn>;
  } catch {
    return {};
  }
}

export function myJoin(communityId: number, address: string): JoinRequestIn | null {
  return stored()[`${communityId}:${getAddress(address)}`] ?? null;
}

/** Forget a request the service says has expired, so the resident is offered a new one. */
export function dropJoin(req: JoinRequestIn): void {
  const kept = stored();
  delete kept[`${req.communityId}:${getAddress(req.resident)}`];
  localStorage.setItem(STORE, JSON.stringify(kept));
}

export function keepJoin(req: JoinRequestIn): void {
  localStorage.setItem(STORE, JSON.stringify({ ...stored(), [`${req.communityId}:${getAddress(req.resident)}`]: req }));
}
