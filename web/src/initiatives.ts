// What a resident signs to put forward or co-sign an initiative and to rate a completed proposal,
// exactly as the contracts define it (protocol.ts), and the calls that carry it to the relay.

import { Wallet, getAddress, type TypedDataDomain, type TypedDataField } from "ethers";
import { api } from "./api";
import { chain, currencyBytes, signForward, textHash, type Chain } from "./chain";
import { DOMAINS, EIP712_FIELDS, FORWARD_GAS } from "./protocol";
import type { ReceiptOut, TextOut } from "./schemas";

const COSIGNATURE_TYPES: Record<string, TypedDataField[]> = { CoSignature: EIP712_FIELDS.CoSignature };
const RATING_TYPES: Record<string, TypedDataField[]> = { Rating: EIP712_FIELDS.Rating };
const NO_COMMENT = `0x${"00".repeat(32)}`;

function domainOf(c: Chain, of: "Initiatives" | "Ratings"): TypedDataDomain {
  const { name, version } = DOMAINS[of];
  return { name, version, chainId: c.chainId, verifyingContract: c.addresses[of === "Initiatives" ? "initiatives" : "ratings"] };
}

/** The text and the author's signed `submit` of its hash, in one request: the text is on the
 * server before anyone is asked to co-sign. */
export async function submitInitiative(wallet: Wallet, communityId: number, text: string, budget: number, currency: string): Promise<ReceiptOut> {
  const args = [communityId, textHash(text), budget, currencyBytes(budget ? currency : "")];
  const request = await signForward(wallet, "initiatives", "submit", args, FORWARD_GAS.submitInitiative);
  return api<ReceiptOut>("/v1/initiatives", { json: { text, request } });
}

export async function coSign(wallet: Wallet, initiativeId: number): Promise<ReceiptOut> {
  const c = await chain();
  const signer = getAddress(wallet.address);
  const signature = await wallet.signTypedData(domainOf(c, "Initiatives"), COSIGNATURE_TYPES, { initiativeId, signer });
  return api<ReceiptOut>("/v1/cosignatures", { json: { initiativeId, signer, signature } });
}

/** A rating of 1 to 5; a comment is stored as a text and its hash signed with the score. */
/** Rate completed work: `proposalId` is a proposal's id or a budget project's grant id (past
 * 2^53, so a BigInt, sent as a JSON integer of every digit). */
export async function rate(wallet: Wallet, proposalId: bigint, score: number, comment: string): Promise<ReceiptOut> {
  const c = await chain();
  const rater = getAddress(wallet.address);
  const commentHash = comment.trim() ? (await api<TextOut>("/v1/texts", { json: { text: comment.trim() } })).hash : NO_COMMENT;
  const message = { proposalId, rater, score, commentHash };
  const signature = await wallet.signTypedData(domainOf(c, "Ratings"), RATING_TYPES, message);
  const rawJson = `{"proposalId":${proposalId.toString()},"rater":"${rater}","score":${score},"commentHash":"${commentHash}","signature":"${signature}"}`;
  return api<ReceiptOut>("/v1/ratings", { rawJson });
}
