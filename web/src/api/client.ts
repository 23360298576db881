// The REST API: JSON over fetch, the access token in memory only, one refresh at a time.
import type {
  Accepted,
  ApiKey,
  ApiKeyScope,
  Conversation,
  ConversationDetail,
  ConversationPage,
  CreatedApiKey,
  CreatedEndpoint,
  CreatedIntegration,
  Delivery,
  Endpoint,
  Integration,
  Model,
  Preferences,
  Problem,
  RotatedSecret,
  Session,
  TemporaryTurn,
  Usage,
  User,
  WebhookEventType,
} from "../types";
import { backoffMs, sleep } from "./backoff";

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  /** Seconds, from `Retry-After` (429 and 503). */
  readonly retryAfter?: number;

  constructor(status: number, title: string, detail: string, retryAfter?: number) {
    super(detail || title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/** What to tell the user about a failed call: the server's own words when it gave some. */
export function failureText(error: unknown, fallback: string): string {
  return error instanceof ApiError ? error.detail || error.title : fallback;
}

const OFFLINE = "You appear to be offline, or chatfn cannot be reached. Try again in a moment.";

let baseUrl = "";

/** Where the API is; "" (same origin) except in tests. */
export function setBaseUrl(url: string): void {
  baseUrl = url;
}

/** A URL the API handed out, such as storage's `/storage/...`: a path is on the API's origin. */
export function resolvedUrl(url: string): string {
  return url.startsWith("/") ? baseUrl + url : url;
}

// --- the session, in memory only -------------------------------------------------------

let session: Session | null = null;
// Bumped on every sign-in and sign-out, so a refresh that was in flight cannot bring
// back a session the user has since left or replaced.
let epoch = 0;
const expiredListeners = new Set<() => void>();

export function getSession(): Session | null {
  return session;
}

export function setSession(next: Session): void {
  epoch += 1;
  session = next;
}

export function clearSession(): void {
  epoch += 1;
  session = null;
}

/** Called when a request found the session over (the refresh was refused). */
export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

// --- requests ------------------------------------------------------------------------

function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

async function errorOf(response: Response): Promise<ApiError> {
  const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
  let problem: Partial<Problem> | undefined;
  try {
    problem = JSON.parse(await response.text()) as Partial<Problem>;
  } catch {
    // Not a problem body (a proxy's HTML page, say): fall back to the status line.
  }
  const title = (typeof problem?.title === "string" && problem.title) || response.statusText;
  const detail =
    typeof problem?.detail === "string"
      ? problem.detail
      : response.status >= 500
        ? "chatfn is having trouble right now. Try again in a moment."
        : `The request failed (HTTP ${response.status}).`;
  return new ApiError(response.status, title || `HTTP ${response.status}`, detail, retryAfter);
}

async function send(input: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(baseUrl + input, { credentials: "same-origin", ...init });
  } catch (error) {
    if (init.signal?.aborted) throw error; // the caller's own abort is not an outage
    throw new ApiError(0, "Offline", OFFLINE);
  }
}

async function attempt(
  method: string,
  path: string,
  body: unknown,
  init: RequestInit | undefined,
  token: string | undefined,
): Promise<Response> {
  const headers = new Headers(init?.headers);
  headers.set("Accept", "application/json");
  if (body !== undefined) headers.set("Content-Type", "application/json");
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return send(path, {
    ...init,
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
}

// These take no access token, so a 401 from them is their answer, not an expired token.
const CREDENTIAL_PATHS = new Set(["/api/auth/login", "/api/auth/register", "/api/auth/refresh"]);

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  init?: RequestInit,
): Promise<T> {
  const token = session?.access_token;
  let response = await attempt(method, path, body, init, token);
  if (response.status === 401 && !CREDENTIAL_PATHS.has(path)) {
    // Another caller may have refreshed while this request was out: use its token.
    const fresh = session?.access_token !== token ? session : await refreshSession();
    if (!fresh) {
      if (session) clearSession();
      for (const listener of expiredListeners) listener();
      throw await errorOf(response);
    }
    response = await attempt(method, path, body, init, fresh.access_token);
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// --- refresh: single flight ------------------------------------------------------------

let refreshing: Promise<Session | null> | null = null;

// A refresh that failed on the way is retried at once: its answer may have been lost after
// the server rotated the cookie, which the server then accepts again for 30 s only.
// Network failures and 5xx only; any other answer is the server's. (Three tries beside
// the stream's own backoff: not worth a retry library.)
const REFRESH_ATTEMPTS = 3;

async function postRefresh(): Promise<Session | null> {
  for (let failures = 1; ; failures++) {
    try {
      return await postRefreshOnce();
    } catch (error) {
      const transient = error instanceof ApiError && (error.status === 0 || error.status >= 500);
      if (!transient || failures >= REFRESH_ATTEMPTS) throw error;
      await sleep(backoffMs(failures));
    }
  }
}

async function postRefreshOnce(): Promise<Session | null> {
  const response = await send("/api/auth/refresh", {
    method: "POST",
    headers: { Accept: "application/json" },
  });
  if (response.status === 401) return null; // no live refresh cookie: signed out
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as Session;
}

/**
 * Trade the refresh cookie for a new session; null when there is none (a normal answer
 * at start-up). Every caller shares one request: the cookie rotates on each refresh and
 * presenting a used one revokes the whole sign-in. Tabs share the cookie too, so where
 * the browser has Web Locks the refresh also waits for other tabs' refreshes.
 */
export function refreshSession(): Promise<Session | null> {
  refreshing ??= (async () => {
    const started = epoch;
    try {
      const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
      const next = locks
        ? await locks.request("chatfn-refresh", postRefresh)
        : await postRefresh();
      if (epoch !== started) return session; // signed in or out meanwhile: that wins
      if (next) setSession(next);
      else if (session) clearSession();
      return next;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// --- the endpoints -------------------------------------------------------------------

const id = encodeURIComponent;

function query(params: Record<string, string | boolean | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function register(
  email: string,
  password: string,
  display_name = "",
  idempotencyKey?: string,
): Promise<Session> {
  const headers: HeadersInit = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
  const next = await request<Session>(
    "POST",
    "/api/auth/register",
    { email, password, display_name },
    { headers },
  );
  setSession(next);
  return next;
}

export async function login(email: string, password: string): Promise<Session> {
  const next = await request<Session>("POST", "/api/auth/login", { email, password });
  setSession(next);
  return next;
}

/** Signs out here; the local session is dropped even when the server cannot be reached. */
export async function logout(): Promise<void> {
  try {
    await request<void>("POST", "/api/auth/logout");
  } finally {
    clearSession();
  }
}

export async function logoutAll(): Promise<void> {
  try {
    await request<void>("POST", "/api/auth/logout-all");
  } finally {
    clearSession();
  }
}

/** Deletes the account for good, confirmed with its password (a 403 when it is wrong);
 *  every session ends with it, so this one is dropped too. */
export async function deleteAccount(password: string): Promise<void> {
  await request<void>("DELETE", "/api/auth/account", { password });
  clearSession();
}

function keepUser(user: User): User {
  if (session) session = { ...session, user }; // the same sign-in: no new epoch
  return user;
}

export async function me(): Promise<User> {
  return keepUser(await request<User>("GET", "/api/me"));
}

export type ProfileUpdate = Partial<Pick<User, "display_name"> & Preferences>;

export async function updateMe(changes: ProfileUpdate): Promise<User> {
  return keepUser(await request<User>("PATCH", "/api/me", changes));
}

export function listConversations(
  params: { cursor?: string; q?: string; archived?: boolean } = {},
): Promise<ConversationPage> {
  return request("GET", `/api/conversations${query(params)}`);
}

export function trash(): Promise<Conversation[]> {
  return request("GET", "/api/conversations/trash");
}

export function createConversation(title = ""): Promise<Conversation> {
  return request("POST", "/api/conversations", { title });
}

export function getConversation(conversationId: string, cursor?: string): Promise<ConversationDetail> {
  return request("GET", `/api/conversations/${id(conversationId)}${query({ cursor })}`);
}

export function updateConversation(
  conversationId: string,
  changes: { title?: string; pinned?: boolean; archived?: boolean },
): Promise<Conversation> {
  return request("PATCH", `/api/conversations/${id(conversationId)}`, changes);
}

/** Moves it to the trash (restorable for 30 days). */
export function deleteConversation(conversationId: string): Promise<void> {
  return request("DELETE", `/api/conversations/${id(conversationId)}`);
}

/** Deletes a chat in the trash for good, with its messages. */
export function purgeConversation(conversationId: string): Promise<void> {
  return request("DELETE", `/api/conversations/trash/${id(conversationId)}`);
}

export function restoreConversation(conversationId: string): Promise<Conversation> {
  return request("POST", `/api/conversations/${id(conversationId)}/restore`);
}

/** An edit is a new message with the edited one's `parent_id`. `attachments` are the ids of
 *  uploads (see chat/attachmentsApi.ts), at most 10. */
export function sendMessage(
  conversationId: string,
  message: { content: string; parent_id?: string | null; model?: string | null; attachments?: string[] },
): Promise<Accepted> {
  return request("POST", `/api/conversations/${id(conversationId)}/messages`, message);
}

/** A new answer to the question behind `messageId` (a reply, or the question itself). */
export function regenerate(messageId: string, model?: string | null): Promise<Accepted> {
  return request("POST", `/api/messages/${id(messageId)}/regenerate`, model ? { model } : {});
}

/** A message in a temporary chat: all of it so far, oldest first, ending with the new
 *  question. The server keeps none of it; the reply streams like any other. */
export function sendTemporary(messages: TemporaryTurn[], model?: string | null): Promise<Accepted> {
  return request("POST", "/api/temporary-chat/messages", { messages, model: model ?? null });
}

export async function stopReply(replyId: string): Promise<void> {
  await request<unknown>("POST", `/api/replies/${id(replyId)}/stop`);
}

/** A fresh single-use stream ticket (valid 60 s). */
export async function newTicket(replyId: string): Promise<string> {
  const { ticket } = await request<{ ticket: string; expires_in: number }>(
    "POST",
    `/api/replies/${id(replyId)}/ticket`,
  );
  return ticket;
}

export function feedback(messageId: string, rating: "up" | "down", comment = ""): Promise<void> {
  return request("POST", `/api/messages/${id(messageId)}/feedback`, { rating, comment });
}

export function models(): Promise<Model[]> {
  return request("GET", "/api/models");
}

// --- outbound webhooks -----------------------------------------------------------------

export function webhookEventTypes(): Promise<WebhookEventType[]> {
  return request("GET", "/api/webhooks/event-types");
}

export function listEndpoints(): Promise<Endpoint[]> {
  return request("GET", "/api/webhooks");
}

export interface EndpointFields {
  url: string;
  event_types: string[];
  description: string;
}

/** A 422 means the URL was refused (not https, or a private address); its detail says why. */
export function createEndpoint(fields: EndpointFields): Promise<CreatedEndpoint> {
  return request("POST", "/api/webhooks", fields);
}

/** `paused: false` also re-enables an endpoint chatfn disabled after repeated failures. */
export function updateEndpoint(
  endpointId: string,
  changes: Partial<EndpointFields> & { paused?: boolean },
): Promise<Endpoint> {
  return request("PATCH", `/api/webhooks/${id(endpointId)}`, changes);
}

export function deleteEndpoint(endpointId: string): Promise<void> {
  return request("DELETE", `/api/webhooks/${id(endpointId)}`);
}

/** A new signing secret; the old one is still signed with for `overlapHours` (0..168). */
export function rotateEndpointSecret(endpointId: string, overlapHours: number): Promise<RotatedSecret> {
  return request("POST", `/api/webhooks/${id(endpointId)}/rotate-secret`, { overlap_hours: overlapHours });
}

/** Sends an io.chatfn.webhook.tested event to the endpoint now. */
export function testEndpoint(endpointId: string): Promise<{ delivery_id: string }> {
  return request("POST", `/api/webhooks/${id(endpointId)}/test`);
}

/** The most recent deliveries, newest first. */
export function listDeliveries(endpointId: string, limit = 20): Promise<Delivery[]> {
  return request("GET", `/api/webhooks/${id(endpointId)}/deliveries${query({ limit: String(limit) })}`);
}

/** A new delivery of the same event. */
export function resendDelivery(deliveryId: string): Promise<{ delivery_id: string }> {
  return request("POST", `/api/webhooks/deliveries/${id(deliveryId)}/resend`);
}

// --- inbound integrations --------------------------------------------------------------

export function listIntegrations(): Promise<Integration[]> {
  return request("GET", "/api/integrations");
}

/** `name`: 1 to 100 characters. */
export function createIntegration(name: string): Promise<CreatedIntegration> {
  return request("POST", "/api/integrations", { name });
}

export function deleteIntegration(integrationId: string): Promise<void> {
  return request("DELETE", `/api/integrations/${id(integrationId)}`);
}

// --- personal API keys -----------------------------------------------------------------

/** Newest first, revoked ones included. */
export function listApiKeys(): Promise<ApiKey[]> {
  return request("GET", "/api/keys");
}

export interface ApiKeyFields {
  /** 1 to 100 characters. */
  name: string;
  scopes: ApiKeyScope[];
  /** 1 to 365; null: never. */
  expires_in_days: number | null;
  /** Keep each completion as a conversation; null: the server's default. */
  store: boolean | null;
  /** null: the owner's own limit. */
  daily_token_budget: number | null;
  requests_per_minute: number | null;
}

/** A 422 says which limit exceeds the owner's own. */
export function createApiKey(fields: ApiKeyFields): Promise<CreatedApiKey> {
  return request("POST", "/api/keys", fields);
}

/** The key stays listed, marked revoked; it is refused everywhere within seconds. */
export function revokeApiKey(keyId: string): Promise<void> {
  return request("DELETE", `/api/keys/${id(keyId)}`);
}

/** Tokens and requests per day and key (the app itself too) over the last `days` days. */
export function usage(days = 30): Promise<Usage> {
  return request("GET", `/api/usage${query({ days: String(days) })}`);
}
