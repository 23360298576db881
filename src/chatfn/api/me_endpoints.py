"""`/api/me`: the signed-in user's profile and preferences.

The profile is the account's (state-stored, `api` writes it); preferences are the chat's
(`io.chatfn.preferences.changed`, projected by `persist_history`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.api.security import Api, ApiDep, DbDep, UserDep
from chatfn.events.catalog import PreferencesChanged
from chatfn.models import Preferences as PreferencesRow
from chatfn.models import User
from chatfn.text import StoredText

router = APIRouter(prefix="/api/me", tags=["me"])

Theme = Literal["light", "dark", "system"]


class Preferences(BaseModel):
    theme: Theme = "system"
    custom_instructions: str = ""
    default_model: str = ""


class UserOut(BaseModel):
    id: UUID
    email: str
    display_name: str
    role: str
    preferences: Preferences
    created_at: datetime | None

    @classmethod
    def of(cls, user: User, preferences: dict[str, Any]) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            preferences=Preferences.model_validate(preferences),
            created_at=user.created_at,
        )


class ProfileUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    display_name: StoredText | None = Field(None, min_length=1, max_length=100)
    theme: Theme | None = None
    custom_instructions: StoredText | None = Field(None, max_length=4000)
    default_model: StoredText | None = Field(None, max_length=200)


async def preferences_of(api: Api, db: AsyncSession, user_id: UUID) -> dict[str, Any]:
    """The user's preferences, their own latest change included."""
    await api.caught_up(user_id)
    row = await db.get(PreferencesRow, user_id)
    return row.values if row else {}


@router.get("")
async def read_me(user: UserDep, db: DbDep, api: ApiDep) -> UserOut:
    return UserOut.of(user, await preferences_of(api, db, user.id))


@router.patch("")
async def update_me(update: ProfileUpdate, user: UserDep, db: DbDep, api: ApiDep) -> UserOut:
    changes = update.model_dump(exclude_unset=True, exclude_none=True)
    if "display_name" in changes:
        user.display_name = changes.pop("display_name").strip() or user.display_name
        await db.commit()
        await db.refresh(user)
    preferences = await preferences_of(api, db, user.id)
    if changes:
        await api.announce(PreferencesChanged(user_id=user.id, **changes), user.id)
    return UserOut.of(user, preferences | changes)
