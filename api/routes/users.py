"""User and API-key administration (role ``admin`` only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import current_actor, get_identity, uses
from api.identity.service import IdentityService
from core.auditing import Actor

router = APIRouter(prefix="/users", tags=["users"])

Role = Literal["admin", "sysadmin", "analyst", "auditor"]


class UserOut(BaseModel):
    username: str
    role: str
    disabled: bool
    must_change_password: bool
    totp_enabled: bool
    locked_until: str | None = None
    created: str | None = None
    password_changed: str | None = None
    last_login: str | None = None
    temporary_password: str | None = None


class UserList(BaseModel):
    items: list[UserOut]


class CreateUserBody(BaseModel):
    username: str = Field(..., min_length=2, max_length=64, pattern=r"^[a-z0-9._-]+$")
    role: Role
    password: str | None = Field(None, max_length=1024, description="Omit to generate a temporary password")


class UpdateUserBody(BaseModel):
    role: Role | None = None
    disabled: bool | None = None


class ApiKeyBody(BaseModel):
    username: str = Field(..., min_length=2, max_length=64)
    name: str = Field(..., min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    username: str
    role: str
    created: str
    revoked: bool
    key: str | None = Field(None, description="Shown once, at creation")


@router.get("", response_model=UserList, **uses(IdentityService.list_users))
def list_users(actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> dict[str, Any]:
    return {"items": identity.list_users(actor=actor)}


@router.post("", response_model=UserOut, status_code=201, **uses(IdentityService.create_user))
def create_user(body: CreateUserBody, actor: Actor = Depends(current_actor),
                identity: Any = Depends(get_identity)) -> dict[str, Any]:
    result: dict[str, Any] = identity.create_user(body.username, body.role, actor=actor, password=body.password)
    return result


@router.get("/apikeys", response_model=list[ApiKeyOut], **uses(IdentityService.list_api_keys))
def list_api_keys(actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return identity.list_api_keys(actor=actor)


@router.post("/apikeys", response_model=ApiKeyOut, status_code=201, **uses(IdentityService.create_api_key))
def create_api_key(body: ApiKeyBody, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return identity.create_api_key(body.username, body.name, actor=actor)


@router.delete("/apikeys/{key_id}", **uses(IdentityService.revoke_api_key))
def revoke_api_key(key_id: str, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return identity.revoke_api_key(key_id, actor=actor)


@router.get("/{username}", response_model=UserOut, **uses(IdentityService.get_user))
def get_user(username: str, actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return identity.get_user(username, actor=actor)


@router.patch("/{username}", response_model=UserOut, **uses(IdentityService.update_user))
def update_user(username: str, body: UpdateUserBody, actor: Actor = Depends(current_actor),
                identity: Any = Depends(get_identity)) -> Any:
    return identity.update_user(username, actor=actor, role=body.role, disabled=body.disabled)


@router.post("/{username}/reset-password", **uses(IdentityService.reset_password))
def reset_password(username: str, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return identity.reset_password(username, actor=actor)


@router.post("/{username}/unlock", response_model=UserOut, **uses(IdentityService.unlock_user))
def unlock_user(username: str, actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return identity.unlock_user(username, actor=actor)
