// Share links: make, list and revoke mine; read one and continue it (chatfn's /api/shares
// and /api/shared/{token}).
import { request } from "../api/client";

export interface ShareLink {
  id: string;
  /** The link's path, `/s/<token>`: anyone holding it reads the snapshot. */
  url: string;
  title: string;
  conversation_id: string;
  up_to_message_id: string;
  /** The start of the last shared message. */
  excerpt: string;
  created_at: string;
  /** False while its conversation is in the trash (the link answers 404 then). */
  available: boolean;
}

export interface SharedMessage {
  role: "user" | "assistant" | "system";
  content: string;
  created_at: string;
  model: string;
}

export interface SharedConversation {
  title: string;
  created_at: string;
  messages: SharedMessage[];
}

const SHARE_PATH = /^\/s\/([A-Za-z0-9_-]{1,64})$/;

/** The token of a share page's path, or null when the path is not one. */
export function shareToken(path: string): string | null {
  return SHARE_PATH.exec(path)?.[1] ?? null;
}

/** The link as someone else opens it: absolute, on this origin. */
export function absoluteUrl(path: string): string {
  return new URL(path, window.location.origin).href;
}

const id = encodeURIComponent;

export function createShare(conversationId: string, upToMessageId: string): Promise<ShareLink> {
  return request("POST", `/api/conversations/${id(conversationId)}/shares`, { up_to_message_id: upToMessageId });
}

export function listShares(): Promise<ShareLink[]> {
  return request("GET", "/api/shares");
}

export function revokeShare(shareId: string): Promise<void> {
  return request("DELETE", `/api/shares/${id(shareId)}`);
}

export function readShared(token: string): Promise<SharedConversation> {
  return request("GET", `/api/shared/${id(token)}`);
}

export function continueShared(token: string): Promise<{ conversation_id: string }> {
  return request("POST", `/api/shared/${id(token)}/continue`);
}
