"""Departments (部门): the tree every user may read (their own part of it), changed by an
administrator of the district only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import current_actor, current_session, get_auditor, get_departments, uses, uses_authenticated
from core import departments as service
from core.auditing import Actor, Auditor
from core.departments import Departments
from core.orgmap import ORG_ID_PATTERN

router = APIRouter(prefix="/departments", tags=["departments"])



class DepartmentOut(BaseModel):
    id: str
    name_zh: str
    name_en: str
    parent: str | None = None


class DepartmentList(BaseModel):
    items: list[DepartmentOut]
    home: str = Field(..., description="the caller's own department (district: the whole district)")
    current: str = Field(..., description="the department the caller acts for now (X-Organization narrows)")
    switchable: bool = Field(..., description="whether the caller may narrow with X-Organization")


class CreateBody(BaseModel):
    id: str = Field(..., min_length=2, max_length=40, pattern=ORG_ID_PATTERN)
    name_zh: str = Field(..., min_length=1, max_length=100)
    name_en: str = Field(..., min_length=1, max_length=100)
    parent: str | None = Field(None, min_length=2, max_length=40, pattern=ORG_ID_PATTERN, description="default: district")


class UpdateBody(BaseModel):
    name_zh: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, min_length=1, max_length=100)
    parent: str | None = Field(None, min_length=2, max_length=40, pattern=ORG_ID_PATTERN)


@router.get("", response_model=DepartmentList, **uses_authenticated())
def list_departments(session: Any = Depends(current_session),
                     departments: Departments = Depends(get_departments)) -> Any:
    home = session.organization
    items = service.list_departments(departments, home)
    return {"items": items, "home": home, "current": session.acting_for or home, "switchable": len(items) > 1}


@router.post("", response_model=DepartmentOut, status_code=201, **uses(service.create_department))
def create_department(body: CreateBody, actor: Actor = Depends(current_actor),
                      departments: Departments = Depends(get_departments),
                      auditor: Auditor = Depends(get_auditor)) -> Any:
    return service.create_department(departments, auditor, body.id, body.name_zh, body.name_en, body.parent,
                                     actor=actor)


@router.patch("/{dept_id}", response_model=DepartmentOut, **uses(service.update_department))
def update_department(dept_id: str, body: UpdateBody, actor: Actor = Depends(current_actor),
                      departments: Departments = Depends(get_departments),
                      auditor: Auditor = Depends(get_auditor)) -> Any:
    return service.update_department(departments, auditor, dept_id, actor=actor, name_zh=body.name_zh,
                                     name_en=body.name_en, parent=body.parent)
