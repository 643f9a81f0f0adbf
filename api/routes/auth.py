"""Login, logout, password change, second factor, who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.deps import client_address, current_session, get_identity, uses_authenticated, uses_public

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginBody(BaseModel):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)
    totp_code: str | None = Field(None, max_length=16, description="Required when the user enabled TOTP")


class LoginOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires: str
    username: str
    role: str
    must_change_password: bool
    idle_timeout_minutes: int
    organization: str = Field("district", description="the user's department (district: district-wide)")


class PasswordBody(BaseModel):
    old_password: str = Field(..., min_length=1, max_length=1024)
    new_password: str = Field(..., min_length=1, max_length=1024)


class CodeBody(BaseModel):
    code: str = Field(..., min_length=6, max_length=8)


class PasswordOnlyBody(BaseModel):
    password: str = Field(..., min_length=1, max_length=1024)


class MeOut(BaseModel):
    username: str
    role: str
    must_change_password: bool
    via: str
    organization: str = Field(..., description="the user's department (district: district-wide)")
    acting_for: str = Field(..., description="the department the request acts for (X-Organization narrows)")


@router.post("/login", response_model=LoginOut, **uses_public())
def login(body: LoginBody, request: Request, identity: Any = Depends(get_identity)) -> LoginOut:
    result = identity.login(body.username, body.password, totp_code=body.totp_code,
                            address=client_address(request))
    return LoginOut(token=result.token, expires=result.expires, username=result.username, role=result.role,
                    must_change_password=result.must_change_password,
                    idle_timeout_minutes=result.idle_timeout_minutes, organization=result.organization)


@router.post("/logout", **uses_authenticated(before_password_change=True))
def logout(session: Any = Depends(current_session), identity: Any = Depends(get_identity)) -> dict[str, bool]:
    identity.logout(session)
    return {"ok": True}


@router.get("/me", response_model=MeOut, **uses_authenticated(before_password_change=True))
def me(session: Any = Depends(current_session)) -> MeOut:
    return MeOut(username=session.username, role=session.role, must_change_password=session.must_change_password,
                 via=session.via, organization=session.organization,
                 acting_for=session.acting_for or session.organization)


@router.post("/password", **uses_authenticated(before_password_change=True))
def change_password(body: PasswordBody, session: Any = Depends(current_session),
                    identity: Any = Depends(get_identity)) -> dict[str, bool]:
    identity.change_password(session, body.old_password, body.new_password)
    return {"ok": True}


@router.post("/totp/setup", **uses_authenticated())
def totp_setup(session: Any = Depends(current_session), identity: Any = Depends(get_identity)) -> dict[str, str]:
    result: dict[str, str] = identity.totp_setup(session)
    return result


@router.post("/totp/enable", **uses_authenticated())
def totp_enable(body: CodeBody, session: Any = Depends(current_session),
                identity: Any = Depends(get_identity)) -> dict[str, bool]:
    identity.totp_enable(session, body.code)
    return {"ok": True}


@router.post("/totp/disable", **uses_authenticated())
def totp_disable(body: PasswordOnlyBody, session: Any = Depends(current_session),
                 identity: Any = Depends(get_identity)) -> dict[str, bool]:
    identity.totp_disable(session, body.password)
    return {"ok": True}
