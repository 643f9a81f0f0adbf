"""User and API-key administration (role ``admin``), dual-control requests (auditors), and
API keys minted by each user for themselves."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import current_actor, get_identity, uses
from api.identity.apikeys import ApiKeys
from api.identity.users import UserAdmin
from core.auditing import Actor
from core.orgmap import ORG_ID_PATTERN

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
    organization: str = "district"
    temporary_password: str | None = None


class UserList(BaseModel):
    items: list[UserOut]


class CreateUserBody(BaseModel):
    username: str = Field(..., min_length=2, max_length=64, pattern=r"^[a-z0-9._-]+$")
    role: Role
    password: str | None = Field(None, max_length=1024, description="Omit to generate a temporary password")
    organization: str | None = Field(None, min_length=2, max_length=40, pattern=ORG_ID_PATTERN,
                                     description="The user's department; default: the caller's own")


class UpdateUserBody(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    organization: str | None = Field(None, min_length=2, max_length=40, pattern=ORG_ID_PATTERN,
                                     description="Move the user to this department (inside the caller's scope)")


class ApiKeyBody(BaseModel):
    username: str | None = Field(None, min_length=2, max_length=64,
                                 description="Only the caller's own name: nobody mints a key for another user")
    name: str = Field(..., min_length=1, max_length=100)


class PendingOut(BaseModel):
    request_id: str
    status: str
    action: str
    username: str
    message: str


class RequestOut(BaseModel):
    id: str
    action: str
    target: str
    changes: dict[str, Any]
    requested_by: str
    requested_role: str
    created: str
    status: str
    decided_by: str | None = None
    decided: str | None = None
    organization: dict[str, Any] | None = Field(None, description="the target account's department")


class RequestList(BaseModel):
    items: list[RequestOut]


class DecisionOut(BaseModel):
    request: RequestOut
    result: dict[str, Any] | None = Field(None, description="The change made; a generated password is shown "
                                                            "to the approving auditor only")


def _shaped(result: dict[str, Any]) -> Any:
    """A change waiting for an auditor's approval is answered 202 with the request."""
    if "request_id" in result:
        return JSONResponse(status_code=202, content=PendingOut(**result).model_dump())
    return result


class ApiKeyOut(BaseModel):
    id: str
    name: str
    username: str
    role: str
    created: str
    revoked: bool
    organization: str = "district"
    key: str | None = Field(None, description="Shown once, at creation")


@router.get("", response_model=UserList, **uses(UserAdmin.list_users))
def list_users(actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> dict[str, Any]:
    return {"items": identity.users.list_users(actor=actor)}


@router.post("", response_model=UserOut, status_code=201, responses={202: {"model": PendingOut}},
             **uses(UserAdmin.create_user))
def create_user(body: CreateUserBody, actor: Actor = Depends(current_actor),
                identity: Any = Depends(get_identity)) -> Any:
    return _shaped(identity.users.create_user(body.username, body.role, actor=actor, password=body.password,
                                              organization=body.organization))


@router.get("/apikeys", response_model=list[ApiKeyOut], **uses(ApiKeys.list_api_keys))
def list_api_keys(actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return identity.api_keys.list_api_keys(actor=actor)


@router.post("/apikeys", response_model=ApiKeyOut, status_code=201, **uses(ApiKeys.create_api_key))
def create_api_key(body: ApiKeyBody, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return identity.api_keys.create_api_key(body.username, body.name, actor=actor)


@router.delete("/apikeys/{key_id}", **uses(ApiKeys.revoke_api_key))
def revoke_api_key(key_id: str, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return identity.api_keys.revoke_api_key(key_id, actor=actor)


@router.get("/requests", response_model=RequestList, **uses(UserAdmin.list_requests))
def list_requests(status: Literal["pending", "approved", "rejected"] | None = "pending",
                  actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return {"items": identity.users.list_requests(actor=actor, status=status)}


@router.post("/requests/{request_id}/approve", response_model=DecisionOut, **uses(UserAdmin.approve_request))
def approve_request(request_id: str, actor: Actor = Depends(current_actor),
                    identity: Any = Depends(get_identity)) -> Any:
    return identity.users.approve_request(request_id, actor=actor)


@router.post("/requests/{request_id}/reject", response_model=DecisionOut, **uses(UserAdmin.reject_request))
def reject_request(request_id: str, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return identity.users.reject_request(request_id, actor=actor)


@router.get("/{username}", response_model=UserOut, **uses(UserAdmin.get_user))
def get_user(username: str, actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return identity.users.get_user(username, actor=actor)


@router.patch("/{username}", response_model=UserOut, responses={202: {"model": PendingOut}},
              **uses(UserAdmin.update_user))
def update_user(username: str, body: UpdateUserBody, actor: Actor = Depends(current_actor),
                identity: Any = Depends(get_identity)) -> Any:
    return _shaped(identity.users.update_user(username, actor=actor, role=body.role, disabled=body.disabled,
                                              organization=body.organization))


@router.post("/{username}/reset-password", responses={202: {"model": PendingOut}},
             **uses(UserAdmin.reset_password))
def reset_password(username: str, actor: Actor = Depends(current_actor),
                   identity: Any = Depends(get_identity)) -> Any:
    return _shaped(identity.users.reset_password(username, actor=actor))


@router.post("/{username}/unlock", response_model=UserOut, **uses(UserAdmin.unlock_user))
def unlock_user(username: str, actor: Actor = Depends(current_actor), identity: Any = Depends(get_identity)) -> Any:
    return identity.users.unlock_user(username, actor=actor)
