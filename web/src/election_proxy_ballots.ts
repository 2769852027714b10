// A proxy's election ballot for a resident who appointed them (IElectionProxies): signed in the
// page with the proxy's own key and handed to the relay. `choices` is encoded as the resident's
// own ballot would be (election_ballots.ts); the resident's own ballot, before or after, wins.

import { TypedDataEncoder, getAddress, type TypedDataField, type Wallet } from "ethers";
import { api } from "./api";
import { chain, electionProxiesDomain, type Chain } from "./chain";
import { EIP712_FIELDS } from "./protocol";
import type { ReceiptOut } from "./schemas";

export const ELECTION_PROXY_BALLOT_TYPES: Record<string, TypedDataField[]> = { ElectionProxyBallot: EIP712_FIELDS.ElectionProxyBallot };

/** The EIP-712 digest of a proxy's election ballot: what the relay's receipt reports once counted. */
export function electionProxyBallotDigest(c: Chain, electionId: number, voter: string, proxy: string, choices: bigint): string {
  return TypedDataEncoder.hash(electionProxiesDomain(c), ELECTION_PROXY_BALLOT_TYPES, { electionId, voter: getAddress(voter), proxy: getAddress(proxy), choices });
}

export async function castElectionProxyBallot(
  wallet: Wallet,
  electionId: number,
  voter: string,
  choices: bigint,
): Promise<{ receipt: ReceiptOut; digest: string }> {
  const c = await chain();
  const proxy = getAddress(wallet.address);
  const resident = getAddress(voter);
  const message = { electionId, voter: resident, proxy, choices };
  const signature = await wallet.signTypedData(electionProxiesDomain(c), ELECTION_PROXY_BALLOT_TYPES, message);
  // Written by hand: a ranking's choices are often past 2^53, where a JSON number loses digits.
  const rawJson = `{"electionId":${electionId},"voter":"${resident}","proxy":"${proxy}","choices":${choices.toString()},"signature":"${signature}"}`;
  const receipt = await api<ReceiptOut>("/v1/election-proxy-ballots", { rawJson });
  return { receipt, digest: electionProxyBallotDigest(c, electionId, resident, proxy, choices) };
}
