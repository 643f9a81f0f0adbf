"""`soc users` commands: local user administration by an operator on the host."""

from __future__ import annotations

import click

from api.identity.service import IdentityService
from core.permissions import ROLES
from soc.cli.context import CliContext, json_option, pass_ctx


def _identity(ctx: CliContext) -> IdentityService:
    store = ctx.store()
    return IdentityService(ctx.settings, store, ctx.auditor)


@click.group("users")
def users() -> None:
    """Local users, roles (admin, sysadmin, analyst, auditor) and API keys."""


@users.command("list")
@json_option
@pass_ctx
def list_users(ctx: CliContext) -> None:
    rows = _identity(ctx).users.list_users(actor=ctx.actor)
    human = "\n".join(f"{u['username']:<20} {u['role']:<9} {u['organization']:<14} "
                      f"{'disabled' if u['disabled'] else 'active':<8} "
                      f"{'locked until ' + u['locked_until'] if u['locked_until'] else ''}" for u in rows)
    ctx.emit(rows, human or "no users")


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--department", "organization", default=None,
              help="the user's department (default: the one you act for; see `soc departments list`)")
@json_option
@pass_ctx
def create(ctx: CliContext, username: str, role: str, organization: str | None) -> None:
    """Create a user with a temporary password (changed at first login)."""
    out = _identity(ctx).users.create_user(username, role, actor=ctx.actor, organization=organization)
    if "request_id" in out:
        ctx.emit(out, out["message"])
        return
    ctx.emit(out, f"created {out['username']} ({out['role']}, {out['organization']}); "
                  f"temporary password: {out['temporary_password']}")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@json_option
@pass_ctx
def set_role(ctx: CliContext, username: str, role: str) -> None:
    out = _identity(ctx).users.update_user(username, actor=ctx.actor, role=role)
    ctx.emit(out, f"{out['username']} is now {out['role']}")


@users.command("set-department")
@click.argument("username")
@click.argument("department")
@json_option
@pass_ctx
def set_department(ctx: CliContext, username: str, department: str) -> None:
    """Move a user to another department (inside your scope); their sessions end."""
    out = _identity(ctx).users.update_user(username, actor=ctx.actor, organization=department)
    ctx.emit(out, out.get("message") or f"{out['username']} now belongs to {out['organization']}")


@users.command("disable")
@click.argument("username")
@json_option
@pass_ctx
def disable(ctx: CliContext, username: str) -> None:
    out = _identity(ctx).users.update_user(username, actor=ctx.actor, disabled=True)
    ctx.emit(out, f"{out['username']} disabled")


@users.command("enable")
@click.argument("username")
@json_option
@pass_ctx
def enable(ctx: CliContext, username: str) -> None:
    out = _identity(ctx).users.update_user(username, actor=ctx.actor, disabled=False)
    ctx.emit(out, f"{out['username']} enabled")


@users.command("reset-password")
@click.argument("username")
@json_option
@pass_ctx
def reset_password(ctx: CliContext, username: str) -> None:
    """Set a new temporary password (also unlocks the account)."""
    out = _identity(ctx).users.reset_password(username, actor=ctx.actor)
    ctx.emit(out, f"temporary password for {out['username']}: {out['temporary_password']} (change at next login)")


@users.command("unlock")
@click.argument("username")
@json_option
@pass_ctx
def unlock(ctx: CliContext, username: str) -> None:
    out = _identity(ctx).users.unlock_user(username, actor=ctx.actor)
    ctx.emit(out, f"{out['username']} unlocked")


@users.command("apikey")
@click.argument("username")
@click.option("--name", required=True, help="What the key is for, e.g. soar-integration")
@json_option
@pass_ctx
def apikey(ctx: CliContext, username: str, name: str) -> None:
    """Create an API key acting as USERNAME (shown once)."""
    out = _identity(ctx).api_keys.create_api_key(username, name, actor=ctx.actor)
    ctx.emit(out, f"API key {out['id']} for {out['username']} ({out['role']}): {out['key']}\n"
                  "Send it as the X-API-Key header; it is not shown again.")


@users.command("requests")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]), default="pending", show_default=True)
@json_option
@pass_ctx
def requests(ctx: CliContext, status: str) -> None:
    """Changes to audit-role accounts waiting for (or decided by) an auditor."""
    rows = _identity(ctx).users.list_requests(actor=ctx.actor, status=status)
    human = "\n".join(f"{r['id']}  {r['action']:<15} {r['target']:<20} by {r['requested_by']:<12} {r['status']}"
                      for r in rows)
    ctx.emit(rows, human or f"no {status} requests")


@users.command("approve")
@click.argument("request_id")
@json_option
@pass_ctx
def approve(ctx: CliContext, request_id: str) -> None:
    """Approve a pending change (as an auditor: map your OS user with SOC_API_CLI_ROLES)."""
    out = _identity(ctx).users.approve_request(request_id, actor=ctx.actor)
    secret = out["result"].get("temporary_password")
    ctx.emit(out, f"approved {request_id}: {out['request']['action']} {out['request']['target']}"
                  + (f"; temporary password: {secret} (change at next login)" if secret else ""))


@users.command("reject")
@click.argument("request_id")
@json_option
@pass_ctx
def reject(ctx: CliContext, request_id: str) -> None:
    out = _identity(ctx).users.reject_request(request_id, actor=ctx.actor)
    ctx.emit(out, f"rejected {request_id}")


COMMANDS: list[click.Command] = [users]
