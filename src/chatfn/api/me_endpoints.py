"""`/api/me`: the signed-in user's profile and preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from chatfn.api.security import DbDep, UserDep
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
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            preferences=Preferences.model_validate(user.preferences or {}),
            created_at=user.created_at,
        )


class ProfileUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    display_name: StoredText | None = Field(None, min_length=1, max_length=100)
    theme: Theme | None = None
    custom_instructions: StoredText | None = Field(None, max_length=4000)
    default_model: StoredText | None = Field(None, max_length=200)


@router.get("")
async def read_me(user: UserDep) -> UserOut:
    return UserOut.of(user)


@router.patch("")
async def update_me(update: ProfileUpdate, user: UserDep, db: DbDep) -> UserOut:
    changes = update.model_dump(exclude_unset=True, exclude_none=True)
    if "display_name" in changes:
        user.display_name = changes.pop("display_name").strip() or user.display_name
    preferences: dict[str, Any] = {**(user.preferences or {}), **changes}
    user.preferences = preferences  # a new dict, so SQLAlchemy sees the change
    await db.commit()
    await db.refresh(user)
    return UserOut.of(user)
