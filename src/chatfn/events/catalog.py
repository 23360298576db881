"""The event catalog: every CloudEvent chatfn publishes, what it carries, how it is read.

Types are `io.chatfn.<entity>.<verb-past>`; commands end in `.requested`. Each payload
is a pydantic model registered here with its version, which travels in `dataschema`
(`urn:chatfn:<type>:v<N>`) so a consumer can tell a payload it cannot read from a
malformed one. Events are partitioned by conversation or user id (`partitionkey`).

Reading an event turns a bad envelope into a 400 and a bad payload into a 422: both
are final for a Knative Kafka Broker, so the event goes to the dead-letter sink
instead of being retried forever.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar
from uuid import UUID, uuid5

from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator
from uuid6 import uuid7

from chatfn.problems import Problem
from chatfn.telemetry.tracing import current_traceparent
from chatfn.text import StoredText

SCHEMA_PREFIX = "urn:chatfn:"
MAX_ERRORS = 20  # a rejection names this many invalid fields at most


# What the tables can hold (chatfn.models): an event that passes here is one that
# persist_history can write, so a bad one is refused (4xx) and never retried as a 500.
ModelName = Annotated[StoredText, Field(max_length=200)]
Title = Annotated[StoredText, Field(max_length=200)]
TokenCount = Annotated[int, Field(ge=0, le=2**31 - 1)]  # PostgreSQL's integer
IMPORT_BATCH = 200  # messages per io.chatfn.conversation.imported (chatfn.chat.imports)
MAX_ATTACHMENTS = 10  # files per message
# An attachment's text in an event: all of a message's files share far less (the model's
# context, chatfn.attachments.reading), and this keeps a message's fact well inside a
# Kafka record however large a context is configured.
ATTACHMENT_TEXT = 100_000


class Payload(BaseModel):
    """An event's data. Subclasses name their type, version and partition field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    partition_field: ClassVar[str]

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_PREFIX}{cls.event_type}:v{cls.version}"

    def partitionkey(self) -> str:
        return str(getattr(self, self.partition_field))


# --- accounts ---------------------------------------------------------------------------


class UserRegisterRequested(Payload):
    """The edge validated a sign-up. The password's hash is not here (the log is kept
    forever): `api` hands it to `register_user` through Redis, for minutes (see
    `accounts.hand_off_password_hash`)."""

    event_type = "io.chatfn.user.register.requested"
    version = 2  # v1 carried the hash
    partition_field = "user_id"

    user_id: UUID
    email: EmailStr
    display_name: StoredText = Field(max_length=100)


class UserRegistered(Payload):
    event_type = "io.chatfn.user.registered"
    partition_field = "user_id"

    user_id: UUID
    email: EmailStr
    display_name: StoredText


class UserLifecyclePayload(Payload):
    """A fact about an account (no credential material: the log is kept forever)."""

    partition_field = "user_id"

    user_id: UUID


class UserProvisioned(UserLifecyclePayload):
    """An account created on its first sign-in through the OpenID provider."""

    event_type = "io.chatfn.user.provisioned"

    issuer: StoredText = Field(max_length=512)
    display_name: StoredText


class UserDisabled(UserLifecyclePayload):
    event_type = "io.chatfn.user.disabled"


class UserEnabled(UserLifecyclePayload):
    event_type = "io.chatfn.user.enabled"


class UserDeleted(UserLifecyclePayload):
    """The account is gone; every projection drops what it holds of the user."""

    event_type = "io.chatfn.user.deleted"


class PreferencesChanged(UserLifecyclePayload):
    """What the user changed in Settings; fields absent were left as they were."""

    event_type = "io.chatfn.preferences.changed"

    theme: Literal["light", "dark", "system"] | None = None
    custom_instructions: StoredText | None = Field(None, max_length=4000)
    default_model: ModelName | None = None


class UserRegisterRejected(Payload):
    event_type = "io.chatfn.user.register.rejected"
    partition_field = "user_id"

    user_id: UUID
    # `handoff_expired`: the hash was no longer waiting (the command came too late).
    reason: Literal["email_taken", "handoff_expired"]


# --- chat -------------------------------------------------------------------------------


class MessagePayload(Payload):
    """What every message event carries: whose, where, and the ids `api` minted."""

    partition_field = "conversation_id"

    user_id: UUID
    conversation_id: UUID
    message_id: UUID
    reply_id: UUID


class SentAttachment(BaseModel):
    """A file sent with a message, as `api` found it in S3 when the message was sent: its
    metadata and what the prompt reads of it. The file itself stays in S3."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    name: StoredText = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=255)
    size_bytes: int = Field(ge=0)
    # `text`: its text is in the prompt; `image`: the file itself goes to the model.
    kind: Literal["text", "image"]
    text: StoredText = Field("", max_length=ATTACHMENT_TEXT)
    cut: bool = Field(False, description="only the start of its text fit the model's context")


class MessageSendRequested(MessagePayload):
    """A user sent a message; `api` minted the message and reply ids before publishing."""

    event_type = "io.chatfn.message.send.requested"

    parent_id: UUID | None = None
    content: StoredText = Field(max_length=100_000)
    model: ModelName | None = None
    attachments: tuple[SentAttachment, ...] = Field((), max_length=MAX_ATTACHMENTS)

    @model_validator(mode="after")
    def _says_something(self) -> MessageSendRequested:
        if not self.content and not self.attachments:
            raise ValueError("a message needs text or a file")
        return self


class MessageSent(MessagePayload):
    event_type = "io.chatfn.message.sent"

    parent_id: UUID | None = None
    content: StoredText
    model: ModelName
    created_conversation: bool = False
    attachments: tuple[SentAttachment, ...] = Field((), max_length=MAX_ATTACHMENTS)


class MessageRejected(MessagePayload):
    """A send or a regeneration refused; `reply_id` ends with an error on its stream."""

    event_type = "io.chatfn.message.rejected"

    reason: Literal["not_found", "budget_exceeded", "key_revoked"]
    detail: StoredText = ""


class ReplyRegenerateRequested(MessagePayload):
    """Answer the user message `message_id` again, as a new sibling reply `reply_id`."""

    event_type = "io.chatfn.reply.regenerate.requested"

    model: ModelName | None = None


class ReplyRegenerated(MessagePayload):
    event_type = "io.chatfn.reply.regenerated"

    model: ModelName


class ReplyCompleted(MessagePayload):
    """The whole reply, once streamed; `stopped` when the user stopped it."""

    event_type = "io.chatfn.reply.completed"

    content: StoredText
    model: ModelName
    finish_reason: Literal["stop", "length", "stopped"]
    prompt_tokens: TokenCount
    completion_tokens: TokenCount
    key_id: UUID | None = Field(None, description="the API key that asked, if one did")


class ReplyFailed(MessagePayload):
    """The model could not answer; what was streamed before the failure is kept."""

    event_type = "io.chatfn.reply.failed"

    content: StoredText = ""
    model: ModelName
    code: str
    message: StoredText


class Turn(BaseModel):
    """One message of an OpenAI-style request, with the id it gets if it is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    role: Literal["system", "user", "assistant"]
    content: StoredText = Field(max_length=100_000)


class CompletionOptions(BaseModel):
    """What `/v1/chat/completions` passes on to the model server as it was asked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: list[Annotated[StoredText, Field(max_length=200)]] | None = Field(None, max_length=4)
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)


class CompletionPayload(MessagePayload):
    """A completion asked for through an API key (`/v1/chat/completions`), or a turn of a
    temporary chat (no key: the app's). `message_id` is the request's last message. With
    `store`, the request's `messages` travel here and become a conversation; without, they
    wait in Redis beside the reply for minutes and the log never holds them."""

    key_id: UUID | None = Field(description="none: a temporary chat in the app")
    model: ModelName
    store: bool
    options: CompletionOptions = CompletionOptions()
    messages: list[Turn] | None = Field(None, max_length=1000)


class CompletionRequested(CompletionPayload):
    event_type = "io.chatfn.completion.requested"


class CompletionAccepted(CompletionPayload):
    event_type = "io.chatfn.completion.accepted"


class CompletionFinished(MessagePayload):
    """A completion that keeps no conversation ended: its usage, never its text."""

    event_type = "io.chatfn.completion.finished"

    key_id: UUID | None
    model: ModelName
    finish_reason: Literal["stop", "length", "stopped", "error"]
    prompt_tokens: TokenCount
    completion_tokens: TokenCount


class ConversationTitled(Payload):
    event_type = "io.chatfn.conversation.titled"
    partition_field = "conversation_id"

    user_id: UUID
    conversation_id: UUID
    title: Title


class ConversationPayload(Payload):
    """A fact about one conversation, decided by `api` (the user asked for it)."""

    partition_field = "conversation_id"

    user_id: UUID
    conversation_id: UUID


class ConversationCreated(ConversationPayload):
    event_type = "io.chatfn.conversation.created"

    title: Title = ""


class ImportedMessage(BaseModel):
    """A message brought in whole, with its place in the tree and its own time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID
    parent_id: UUID | None
    role: Literal["system", "user", "assistant"]
    content: StoredText = Field(max_length=100_000)
    model: ModelName = ""
    created_at: datetime


class ConversationImported(ConversationPayload):
    """A conversation brought in whole (an import, a shared one continued): its title and
    a batch of its messages, parents before children. A long one comes as several such
    facts in order, each within the broker's message size; applying one twice changes
    nothing (the ids are the importer's, derived from the source)."""

    event_type = "io.chatfn.conversation.imported"

    title: Title = ""
    created_at: datetime
    messages: list[ImportedMessage] = Field(max_length=IMPORT_BATCH)


class ConversationRenamed(ConversationPayload):
    event_type = "io.chatfn.conversation.renamed"

    title: Title


class ConversationPinned(ConversationPayload):
    """Pinned (`pinned`) or unpinned."""

    event_type = "io.chatfn.conversation.pinned"

    pinned: bool


class ConversationArchived(ConversationPayload):
    """Archived (`archived`) or brought back from the archive."""

    event_type = "io.chatfn.conversation.archived"

    archived: bool


class ConversationTrashed(ConversationPayload):
    """Moved to the trash, restorable for 30 days from the event's time."""

    event_type = "io.chatfn.conversation.trashed"


class ConversationRestored(ConversationPayload):
    event_type = "io.chatfn.conversation.restored"


class ConversationPurged(ConversationPayload):
    """Deleted for good, with its messages and feedback."""

    event_type = "io.chatfn.conversation.purged"


class FeedbackGiven(ConversationPayload):
    """A thumbs up or down on a reply; a later one replaces it."""

    event_type = "io.chatfn.feedback.given"

    message_id: UUID
    rating: Literal["up", "down"]
    comment: StoredText = Field("", max_length=2000)


# --- webhooks ---------------------------------------------------------------------------
# An endpoint's URL and secret never travel in an event: a URL may itself be a credential
# (a chat platform's incoming-webhook URL is), and the log is kept forever.


class WebhookEndpointPayload(Payload):
    partition_field = "user_id"

    user_id: UUID
    endpoint_id: UUID


class WebhookEndpointSaved(WebhookEndpointPayload):
    """An endpoint registered or changed (its URL, events, description, pause)."""

    event_type = "io.chatfn.webhook.endpoint.saved"

    event_types: list[str]
    scope: Literal["user", "instance"]
    paused: bool


class WebhookEndpointDeleted(WebhookEndpointPayload):
    event_type = "io.chatfn.webhook.endpoint.deleted"


class WebhookTestRequested(WebhookEndpointPayload):
    """Send `io.chatfn.webhook.tested` to the endpoint now, as delivery `delivery_id`."""

    event_type = "io.chatfn.webhook.test.requested"

    delivery_id: UUID


class WebhookResendRequested(WebhookEndpointPayload):
    """Deliver again, as `delivery_id`, the event of an earlier delivery `resend_of`."""

    event_type = "io.chatfn.webhook.resend.requested"

    delivery_id: UUID
    resend_of: UUID


# --- schedules --------------------------------------------------------------------------


# --- API keys ---------------------------------------------------------------------------


class ApiKeyPayload(Payload):
    """A personal API key's lifecycle, never the key or its hash."""

    partition_field = "user_id"

    user_id: UUID
    key_id: UUID


class ApiKeyCreated(ApiKeyPayload):
    event_type = "io.chatfn.apikey.created"

    name: StoredText = Field(max_length=100)
    scopes: list[str]


class ApiKeyRevoked(ApiKeyPayload):
    event_type = "io.chatfn.apikey.revoked"


# --- share links ------------------------------------------------------------------------


class SharePayload(Payload):
    """A share link's lifecycle, never its token (the token is the capability to read)."""

    partition_field = "user_id"

    user_id: UUID
    share_id: UUID


class ShareCreated(SharePayload):
    event_type = "io.chatfn.share.created"

    conversation_id: UUID
    up_to_message_id: UUID


class ShareRevoked(SharePayload):
    event_type = "io.chatfn.share.revoked"


# --- your data: export and import ------------------------------------------------------


class ExportRequested(Payload):
    """The user asked for their data (`POST /api/exports`); the `exports` function builds it."""

    event_type = "io.chatfn.export.requested"
    partition_field = "user_id"

    user_id: UUID
    export_id: UUID


class ExportReady(Payload):
    """The export's zip is in S3. No link here: a presigned URL is a credential, minted by
    `api` for its owner on download."""

    event_type = "io.chatfn.export.ready"
    partition_field = "user_id"

    user_id: UUID
    export_id: UUID


class ImportRequested(Payload):
    """The user uploaded a file to import (`POST /api/imports`): the S3 object
    `object_name`, under `imports/<user_id>/`."""

    event_type = "io.chatfn.import.requested"
    partition_field = "user_id"

    user_id: UUID
    import_id: UUID
    object_name: str = Field(max_length=300)


class ImportCompleted(Payload):
    """An import's outcome: what came in (its conversations as
    `io.chatfn.conversation.imported`) and what was left out."""

    event_type = "io.chatfn.import.completed"
    partition_field = "user_id"

    user_id: UUID
    import_id: UUID
    succeeded: bool
    conversations: int = Field(ge=0)
    messages: int = Field(ge=0)


class PingTick(Payload):
    """A tick of a Knative PingSource (eventing/300-pingsource-*.yaml), in Knative's own
    envelope: no dataschema, no traceparent. Its data names the work it is for."""

    event_type = "dev.knative.sources.ping"
    partition_field = "sweep"

    sweep: str


CATALOG: dict[str, type[Payload]] = {
    payload.event_type: payload
    for payload in (
        UserRegisterRequested,
        UserRegistered,
        UserRegisterRejected,
        UserProvisioned,
        UserDisabled,
        UserEnabled,
        UserDeleted,
        PreferencesChanged,
        MessageSendRequested,
        MessageSent,
        MessageRejected,
        ReplyRegenerateRequested,
        ReplyRegenerated,
        ReplyCompleted,
        ReplyFailed,
        CompletionRequested,
        CompletionAccepted,
        CompletionFinished,
        ConversationTitled,
        ConversationCreated,
        ConversationImported,
        ConversationRenamed,
        ConversationPinned,
        ConversationArchived,
        ConversationTrashed,
        ConversationRestored,
        ConversationPurged,
        FeedbackGiven,
        WebhookEndpointSaved,
        WebhookEndpointDeleted,
        WebhookTestRequested,
        WebhookResendRequested,
        ApiKeyCreated,
        ApiKeyRevoked,
        ShareCreated,
        ShareRevoked,
        PingTick,
        ExportRequested,
        ExportReady,
        ImportRequested,
        ImportCompleted,
    )
}


_FACTS = UUID("5d0c7a52-9a43-4c0e-b1a9-2f6e0c1f7f11")


def fact_id(payload_type: type[Payload], entity: UUID) -> str:
    """The one id a fact about `entity` ever gets, however often a retry emits it again."""
    return str(uuid5(_FACTS, f"{payload_type.event_type}:{entity}"))


# Facts no Trigger consumes, and why that is on purpose.
TERMINAL: dict[str, str] = {
    MessageRejected.event_type: "the reader learns it from the reply's stream, which "
    "send_message ends with the reason; nothing else changes",
    UserProvisioned.event_type: "an account's lifecycle, for the log and for integrations: "
    "accounts are state-stored (register_user and api write them)",
    UserDisabled.event_type: "as io.chatfn.user.provisioned",
    UserEnabled.event_type: "as io.chatfn.user.provisioned",
    WebhookEndpointSaved.event_type: "an endpoint's lifecycle, for the log: endpoints are "
    "state-stored by api, since they hold a signing secret",
    WebhookEndpointDeleted.event_type: "as io.chatfn.webhook.endpoint.saved",
    ApiKeyCreated.event_type: "a key's lifecycle, for the log: keys are state-stored by api, "
    "since they are credential material",
    ApiKeyRevoked.event_type: "as io.chatfn.apikey.created",
    ShareCreated.event_type: "a share link's lifecycle, for the log: shares are state-stored "
    "by api, since each holds the token that reads it",
    ShareRevoked.event_type: "as io.chatfn.share.created",
    ExportReady.event_type: "for the log and for integrations: the user sees it in "
    "Settings, which polls the export's status (the exports table)",
    ImportCompleted.event_type: "as io.chatfn.export.ready: the imports table holds the outcome",
}


def new_traceparent() -> str:
    """A W3C traceparent that starts a new trace (sampled)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def new_event(
    payload: Payload,
    *,
    source: str,
    subject: str | None = None,
    traceparent: str | None = None,
    extensions: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> CloudEvent:
    """A CloudEvent carrying `payload`, with a fresh UUIDv7 id and the catalog's attributes.

    The event continues the current span's trace (chatfn.telemetry), else `traceparent`'s
    (telemetry off: the trace the caller received); with neither a new trace starts.
    `event_id` (see `fact_id`) makes a re-emitted fact a duplicate its consumers skip.
    """
    attributes: dict[str, Any] = {
        "id": event_id or str(uuid7()),
        "type": payload.event_type,
        "source": source,
        "time": datetime.now(UTC).isoformat(),
        "subject": subject or payload.partitionkey(),
        "dataschema": payload.dataschema(),
        "datacontenttype": "application/json",
        "partitionkey": payload.partitionkey(),
        "traceparent": current_traceparent() or traceparent or new_traceparent(),
        **(extensions or {}),
    }
    return CloudEvent(attributes, payload.model_dump(mode="json"))


class EventRejected(Problem):
    """An event this consumer will never accept: a final 4xx answer to the broker."""

    STATUS: ClassVar[int]
    TITLE: ClassVar[str]

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(
            self.STATUS, detail, title=self.TITLE, extra={"errors": errors} if errors else None
        )


class MalformedEvent(EventRejected):
    STATUS = 400
    TITLE = "Malformed CloudEvent"


class InvalidPayload(EventRejected):
    STATUS = 422
    TITLE = "Invalid event payload"


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class ReceivedEvent(Generic[P]):
    event: CloudEvent
    payload: P

    @property
    def key(self) -> tuple[str, str]:
        """What makes a delivery a duplicate: CloudEvents' (`source`, `id`)."""
        return self.event["source"], self.event["id"]


def parse_event(headers: Mapping[str, str], body: bytes, *accepted: type[P]) -> ReceivedEvent[P]:
    """Read a binary- or structured-mode CloudEvent whose type is one of `accepted`."""
    try:
        event = from_http(dict(headers), body)
    except (GenericException, ValueError) as exc:
        # The class only: the SDK's messages quote the body, which may hold user content.
        raise MalformedEvent(f"not a readable CloudEvent ({type(exc).__name__})") from exc
    by_type = {payload.event_type: payload for payload in accepted}
    payload_type = by_type.get(event["type"])
    if payload_type is None:
        raise MalformedEvent(f"type {event['type']!r} is not one of {sorted(by_type)}")
    schema = event.get("dataschema")
    if schema is not None and schema != payload_type.dataschema():
        raise InvalidPayload(f"dataschema {schema!r} is not {payload_type.dataschema()!r}")
    if not isinstance(event.data, dict):
        raise InvalidPayload("data must be a JSON object")
    try:
        payload = payload_type.model_validate(event.data)
    except ValidationError as exc:
        # Field locations and messages only: the input may hold user content or a hash.
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        details = [
            {"loc": [str(part)[:64] for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in errors[:MAX_ERRORS]
        ]
        raise InvalidPayload(f"{len(errors)} invalid field(s)", errors=details) from exc
    return ReceivedEvent(event=event, payload=payload)
