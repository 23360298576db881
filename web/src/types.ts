// The REST API's shapes (see /api/openapi.json), as the UI uses them.

export type Theme = "light" | "dark" | "system";

export interface Preferences {
  theme: Theme;
  custom_instructions: string;
  default_model: string;
}

export interface User {
  id: string;
  email: string;
  display_name: string;
  role: "user" | "admin";
  preferences: Preferences;
  created_at: string | null;
}

export interface Session {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  user: User;
}

export interface Conversation {
  id: string;
  title: string;
  pinned: boolean;
  archived: boolean;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface ConversationPage {
  conversations: Conversation[];
  next_cursor: string | null;
}

export type MessageStatus = "streaming" | "complete" | "stopped" | "failed";

export interface Message {
  id: string;
  parent_id: string | null;
  role: "user" | "assistant" | "system";
  content: string;
  model: string;
  status: MessageStatus;
  created_at: string;
  /** This message and its siblings (same parent), oldest first. */
  siblings: string[];
  /** The files sent with a user's message (none in a temporary chat). */
  attachments?: Attachment[];
}

/** A file sent with a message: text is read into the prompt, an image is shown to the model. */
export interface Attachment {
  id: string;
  name: string;
  content_type: string;
  size_bytes: number;
  kind: "text" | "image";
  /** Only the start of its text fit the model's context. */
  cut: boolean;
}

export interface ConversationDetail extends Conversation {
  messages: Message[];
  next_cursor: string | null;
}

export interface Accepted {
  message_id: string;
  reply_id: string;
  stream_ticket: string;
  /** Files of the message only the start of which was read (a send with files). */
  cut_attachments?: string[];
}

/** A turn of a temporary chat, as the browser sends it back with each new message. */
export interface TemporaryTurn {
  role: "user" | "assistant";
  content: string;
}

export interface Model {
  id: string;
  /** preparing: listed, but not answering until its server is set up (llama.cpp compiling). */
  status: "ready" | "preparing";
  /** How far its preparation is, in words, while it is prepared. */
  detail: string;
}

/** An RFC 9457 problem body, as every error of the API is. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
}

// --- outbound webhooks -----------------------------------------------------------------

export interface WebhookEventType {
  type: string;
  description: string;
  version: number;
}

export type EndpointState = "active" | "paused" | "disabled";

export interface Endpoint {
  id: string;
  url: string;
  event_types: string[];
  description: string;
  /** "disabled": chatfn stopped after repeated failures; `paused: false` re-enables it. */
  state: EndpointState;
  disabled_reason: string | null;
  created_at: string;
  secret_rotated_at: string | null;
}

/** The answer to a create: the signing secret, this once and never again. */
export interface CreatedEndpoint extends Endpoint {
  secret: string;
}

export interface RotatedSecret {
  secret: string;
  /** Until then chatfn signs with the old secret as well. */
  previous_valid_until: string | null;
}

export interface DeliveryAttempt {
  at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  /** The start of the receiver's answer: untrusted text, never markup. */
  excerpt: string;
}

export interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  state: "pending" | "retrying" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: string | null;
  created_at: string;
  last_attempt: DeliveryAttempt | null;
}

// --- inbound integrations ---------------------------------------------------------------

/** A bot or helpdesk that posts messages into the user's chats, signed with its own secret. */
export interface Integration {
  id: string;
  name: string;
  created_at: string;
  /** The path it posts to (`/api/inbound/{id}`), relative to this origin. */
  url: string;
}

/** The answer to a create: the signing secret, this once and never again. */
export interface CreatedIntegration extends Integration {
  secret: string;
}

// --- personal API keys ------------------------------------------------------------------

/** What a key may do: `chat` calls `POST /v1/chat/completions`, `history:read` reads `GET /api/conversations`. */
export type ApiKeyScope = "chat" | "history:read";

/** A personal API key for the OpenAI-compatible `/v1`; the key itself is never listed, only its hint. */
export interface ApiKey {
  id: string;
  name: string;
  /** The start of the key (`sk-chatfn-Ab12…`), safe to show. */
  hint: string;
  scopes: ApiKeyScope[];
  /** Each completion made with it becomes a conversation in the sidebar. */
  store: boolean;
  /** null: the owner's own limit applies. */
  daily_token_budget: number | null;
  requests_per_minute: number | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  /** A revoked key stays listed, refused everywhere. */
  revoked_at: string | null;
}

/** The answer to a create: the key, this once and never again. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

/** One day's use by the app itself (`key_id` null) or by one key. */
export interface UsageDay {
  day: string;
  key_id: string | null;
  key_name: string | null;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export interface Usage {
  /** Tokens a day the account may use; 0: no budget. */
  daily_token_budget: number;
  used_today: number;
  /** Newest day first. */
  days: UsageDay[];
}
