"""The PostgreSQL tables (SQLAlchemy 2 declarative).

Citus-ready: every tenant table carries `user_id` in its primary key and in every
foreign key, so distributing them by `user_id` keeps each user's rows on one node
and every join local. Two lookup tables are keyed by what is looked up instead
(`user_emails` by email, `user_identities` by issuer and subject): their primary
keys are what make an email or an external identity unique.

Each table has one writer, named in its docstring. Accounts are state-stored (their
lifecycle is also published as facts); the chat tables are a projection of the event
log, written by `persist_history` alone (chatfn.chat.projection), which is why they
hold no foreign key to `users`: `chatfn replay` rebuilds them into an empty database,
and an account's deletion reaches them as the `io.chatfn.user.deleted` fact.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from chatfn.db import Base


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessedEvent(Base):
    """A CloudEvent a consumer has handled, written in the same transaction as its effects.

    Writer: every consumer, for itself (chatfn.events.idempotency).

    CloudEvents makes (`source`, `id`) unique per event, so a redelivery finds its row;
    `consumer` keeps one function's record from hiding the event from another.
    """

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))
    processed_at: Mapped[datetime] = _created_at()


class User(Base):
    """An account. Writers: `register_user` (sign-up) and `api` (sign-in through the
    OpenID provider, profile, roles, disabling, deletion), each change also a fact."""

    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    # None for an account that only ever signs in through the OpenID provider.
    password_hash: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()


class UserEmail(Base):
    """Claims a normalised email for one user; its primary key makes emails unique.
    Writer: `register_user`; `api` when it deletes the account."""

    __tablename__ = "user_emails"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(Uuid)


class UserIdentity(Base):
    """An account at an external OpenID provider, tied to the user it provisioned.
    Writer: `api`."""

    __tablename__ = "user_identities"

    issuer: Mapped[str] = mapped_column(String(512), primary_key=True)
    subject: Mapped[str] = mapped_column(String(256), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(Uuid)


class RefreshTokenFamily(Base):
    """One sign-in: every refresh token rotated from it belongs to this family.
    Writer: `api`."""

    __tablename__ = "refresh_token_families"
    __table_args__ = (ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),)

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    user_agent: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = _created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """A refresh token, stored as a hash; `used_at` set once it has been rotated.
    Writer: `api`."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "family_id"],
            ["refresh_token_families.user_id", "refresh_token_families.id"],
            ondelete="CASCADE",
        ),
    )

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[UUID] = mapped_column(Uuid)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Conversation(Base):
    """Writer: `persist_history`, from the conversation and message facts."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("conversations_by_recency", "user_id", "updated_at"),
        # Trigram indexes serve search: `ILIKE '%words%'` on titles and messages.
        Index("conversations_title_trigrams", "title", postgresql_using="gin",
              postgresql_ops={"title": "gin_trgm_ops"}),
    )  # fmt: skip

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Set when moved to the trash; restorable until it is 30 days old.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _created_at()


class Message(Base):
    """A node of a conversation's tree: an edit or a regeneration is a sibling (same parent).
    Writer: `persist_history`, from the message and reply facts."""

    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "conversation_id"],
            ["conversations.user_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["user_id", "parent_id"], ["messages.user_id", "messages.id"]),
        Index("messages_by_conversation", "user_id", "conversation_id", "created_at"),
        Index("messages_by_parent", "user_id", "parent_id"),
        Index("messages_content_trigrams", "content", postgresql_using="gin",
              postgresql_ops={"content": "gin_trgm_ops"}),
    )  # fmt: skip

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    conversation_id: Mapped[UUID] = mapped_column(Uuid)
    parent_id: Mapped[UUID | None] = mapped_column(Uuid)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    model: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # user messages are `complete` at once; replies go streaming -> complete|stopped|failed.
    status: Mapped[str] = mapped_column(String(16), default="complete", server_default="complete")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _created_at()


class MessageAttachment(Base):
    """A file sent with a user message: an object in S3 (`attachments/<user>/<id>`), what
    the prompt reads of it (`text`, cut to fit the model's context: `cut`), never a path
    from its name. One file may go with several messages (an edit resends it): its object
    stays while any holds it. Writer: `persist_history`, from `io.chatfn.message.sent`."""

    __tablename__ = "message_attachments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "message_id"], ["messages.user_id", "messages.id"], ondelete="CASCADE"
        ),
        Index("message_attachments_by_file", "user_id", "id"),
    )

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    message_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))  # text | image
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    cut: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class Feedback(Base):
    """A user's thumbs up or down on a reply, with an optional comment; one per reply.
    Writer: `persist_history`, from `io.chatfn.feedback.given`."""

    __tablename__ = "feedback"
    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "message_id"], ["messages.user_id", "messages.id"], ondelete="CASCADE"
        ),
    )

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    message_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    rating: Mapped[str] = mapped_column(String(8))  # up | down
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = _created_at()


class Preferences(Base):
    """What the user set in Settings: theme, custom_instructions, default_model.
    Writer: `persist_history`, from `io.chatfn.preferences.changed`."""

    __tablename__ = "preferences"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    updated_at: Mapped[datetime] = _created_at()


class WebhookEndpoint(Base):
    """Where a user (or, with scope `instance`, an admin for everyone) wants facts POSTed.
    Writer: `api`: state-stored like an account, since it holds the signing secret (and the
    URL, which may itself be a credential); its lifecycle is published as facts without
    either. `previous_secret` still signs until `previous_valid_until` after a rotation."""

    __tablename__ = "webhook_endpoints"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(128)))
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # When its owner last resumed it: a disabling before this no longer holds.
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()


class WebhookDelivery(Base):
    """One event on its way to one endpoint, with the exact body that is signed.
    Writer: `webhooks`. An event gets one delivery per endpoint however often it is
    delivered to the function (the unique index); a resend is a delivery of its own."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("webhook_deliveries_once", "user_id", "endpoint_id", "event_source", "event_id",
              unique=True, postgresql_where=text("resend_of IS NULL")),
        Index("webhook_deliveries_by_endpoint", "user_id", "endpoint_id", "created_at"),
        Index("webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("state = 'retrying'")),
    )  # fmt: skip

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    endpoint_id: Mapped[UUID] = mapped_column(Uuid)
    event_source: Mapped[str] = mapped_column(String(512))
    event_id: Mapped[str] = mapped_column(String(256))
    event_type: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    resend_of: Mapped[UUID | None] = mapped_column(Uuid)
    # pending -> delivered | retrying -> ... -> delivered | failed
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()


class WebhookAttempt(Base):
    """One POST of a delivery: what came back, how fast. Writer: `webhooks`."""

    __tablename__ = "webhook_attempts"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    delivery_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = _created_at()
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    excerpt: Mapped[str] = mapped_column(String(600), default="", server_default="")


class WebhookHealth(Base):
    """How an endpoint has been answering lately; disabled after too many failures in a
    row (`WEBHOOK_DISABLE_AFTER_FAILURES`) or a 410. Writer: `webhooks`."""

    __tablename__ = "webhook_health"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    endpoint_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    failures_in_a_row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(String(300))


class InboundIntegration(Base):
    """An integration (a bot, a ticketing system) allowed to post messages into its user's
    conversations through `/api/inbound/{id}`, each post signed with `secret` (Standard
    Webhooks). Writer: `api`, state-stored since it holds the secret."""

    __tablename__ = "inbound_integrations"
    __table_args__ = (Index("inbound_integrations_by_id", "id"),)

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = _created_at()


class ErasedUser(Base):
    """A deleted account, as the projection saw `io.chatfn.user.deleted`: later facts of the
    user (from other partitions) are ignored. Writer: `persist_history`."""

    __tablename__ = "erased_users"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A personal API key for `/v1` and the history reads: only its keyed hash is kept
    (chatfn.identity.api_keys says why a fast one). Revoked keys stay, so their usage
    keeps a name. Writer: `api`, state-stored since it holds credential material."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("api_keys_by_digest", "digest"),)

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    hint: Mapped[str] = mapped_column(String(32))  # the key's first characters, to tell it by
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    store: Mapped[bool] = mapped_column(Boolean)
    daily_token_budget: Mapped[int | None] = mapped_column(Integer)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DailyUsage(Base):
    """Tokens a user spent per UTC day, by API key (`key_id` nil: the app itself). The
    daily budgets are checked against it; unlike the messages, it outlives a purge and
    counts completions that keep no conversation. Writer: `persist_history`."""

    __tablename__ = "daily_usage"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Share(Base):
    """A read-only snapshot of a conversation's branch, served to anyone who holds `token`
    at `/s/<token>`. Writer: `api`, state-stored since the token is a bearer capability;
    the owner copies the link again from their list, and a revocation deletes the row.
    `snapshot` is the branch as it was when shared: `{"title", "messages": [{"role",
    "content", "created_at", "model"}]}`, so later messages never reach the link."""

    __tablename__ = "shares"
    __table_args__ = (Index("shares_by_token", "token"),)

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    conversation_id: Mapped[UUID] = mapped_column(Uuid)
    up_to_message_id: Mapped[UUID] = mapped_column(Uuid)
    token: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created_at()


class Export(Base):
    """A user's data export: a zip in S3 (`object_key`) built by the `exports` function,
    its one writer, on `io.chatfn.export.requested`; `status` is pending, ready or failed.
    The object is deleted once `expires_at` has passed (the row stays, as `expired`)."""

    __tablename__ = "exports"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    object_key: Mapped[str] = mapped_column(String(300))
    conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = _created_at()
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Import(Base):
    """A user's import of an uploaded file (chatfn's export or ChatGPT's) and its outcome.
    Writer: the `exports` function, on `io.chatfn.import.requested`; `status` is pending,
    done or failed (`error` says why, in words for the user)."""

    __tablename__ = "imports"

    user_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    source: Mapped[str] = mapped_column(String(16), default="", server_default="")
    conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    messages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = _created_at()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
