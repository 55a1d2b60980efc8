"""`causerie admin org|user|key|models`: the operator manages organizations on this machine's store.

Shaped to be scripted: `key create` prints the new key once, alone on the last line; a password is
prompted for (twice, hidden) or read from stdin with `--password-stdin`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

import typer

from causerie.cli.common import _fail, _friendly_errors, console
from causerie.cli.settings import cli_settings
from causerie.protocol.admin import parse_duration
from causerie.services.accounts import AccountService
from causerie.services.container import Container

admin_app = typer.Typer(
    name="admin", help="Manage organizations, members, API keys and model access.", no_args_is_help=True
)
org_app = typer.Typer(name="org", help="Organizations.", no_args_is_help=True)
user_app = typer.Typer(name="user", help="Members of an organization.", no_args_is_help=True)
key_app = typer.Typer(name="key", help="API keys.", no_args_is_help=True)
models_app = typer.Typer(name="models", help="Which models an organization may use.", no_args_is_help=True)
for sub in (org_app, user_app, key_app, models_app):
    admin_app.add_typer(sub)


class RoleChoice(str, Enum):
    admin = "admin"
    member = "member"


OrgOpt = Annotated[str, typer.Option("--org", help="The organization's name.")]


@contextmanager
def _accounts() -> Iterator[AccountService]:
    with _friendly_errors():
        container = Container(cli_settings())
        try:
            yield container.accounts
        finally:
            container.close_store()


@org_app.command("create")
def org_create(name: Annotated[str, typer.Argument(help="A unique name.")]) -> None:
    """Create an organization. The first one turns on organization mode and adopts the personal-mode data."""
    with _accounts() as accounts:
        org = accounts.create_organization(name.strip())
    console.print(f"Created organization {org.name} ({org.id}).", soft_wrap=True)
    if org.adopted_conversations:
        console.print(f"It adopted {org.adopted_conversations} personal-mode conversations.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_app.command("create")
def user_create(
    org: OrgOpt,
    email: Annotated[str, typer.Option("--email", help="The user's email (their sign-in name).")],
    role: Annotated[RoleChoice, typer.Option("--role", help="admin or member.")] = RoleChoice.member,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add a member to an organization (a new user: prompts for a password; an existing one keeps theirs)."""
    with _accounts() as accounts:
        existing = accounts.repository.user_by_email(email.strip().lower())
        password = None if existing is not None else _password(password_stdin)
        member = accounts.add_user(org, email, password, role.value)
    console.print(f"Added {member.email} to {org} as {member.role} ({member.id}).", soft_wrap=True)


@key_app.command("create")
def key_create(
    org: OrgOpt,
    user: Annotated[str | None, typer.Option("--user", help="A member's email; none: a service key.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label to recognize the key by.")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Valid for 30d, 12h, 90m…; default: until revoked.")
    ] = None,
) -> None:
    """Create an API key; the key is printed once, on the last line (it is stored only as a hash)."""
    try:
        duration = parse_duration(expires) if expires else None
    except ValueError as exc:  # PydanticCustomError
        raise _fail(f"invalid --expires: {exc}", 2) from None
    with _accounts() as accounts:
        created = accounts.create_key(org, user=user, name=name, expires=duration)
    console.print(f"Created key {created.id} ({created.prefix}); it is shown only now:", soft_wrap=True)
    typer.echo(created.key)


@key_app.command("revoke")
def key_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")]) -> None:
    """Revoke a key: requests with it are refused from now on."""
    with _accounts() as accounts:
        key = accounts.revoke_key(key_id)
    console.print(f"Revoked key {key.id} ({key.prefix}).")


@models_app.command("grant")
def models_grant(org: OrgOpt, model: Annotated[str, typer.Argument(help="A model id.")]) -> None:
    """Let the organization use a model (a preview model, or another organization's localized model)."""
    with _accounts() as accounts:
        accounts.grant(org, model)
    console.print(f"{org} may now use {model}.", soft_wrap=True)


@models_app.command("revoke")
def models_revoke(org: OrgOpt, model: Annotated[str, typer.Argument(help="A model id.")]) -> None:
    """Take back a grant."""
    with _accounts() as accounts:
        accounts.revoke_grant(org, model)
    console.print(f"{org} no longer has a grant for {model}.", soft_wrap=True)
