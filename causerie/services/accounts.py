"""Organizations, members, API keys and model grants; which principal a key is; which mode the server is in.

Two kinds of callers, one rule set:

- the operator (``causerie admin``, in-process) names organizations and may do anything;
- the admin API acts for a ``Principal``: only an owner or admin of a real organization may, only
  inside that organization (another organization's key is not found), and it grants only the models
  its organization owns.

Keys are ``sk-cau-`` plus 32 random bytes (URL-safe base64), stored as their SHA-256 and a display
prefix; passwords are hashed with argon2 (``argon2-cffi``). Neither is ever logged.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from argon2 import PasswordHasher

from causerie.config import Settings
from causerie.errors import InvalidRequest, ModelNotFound, PermissionDenied
from causerie.models.registry import ModelRegistry
from causerie.principal import PERSONAL_ORGANIZATION_ID, Principal, Role
from causerie.protocol.admin import ApiKey, ApiKeyCreated, Member, ModelGrant, Organization
from causerie.store.accounts import AccountRepository
from causerie.store.accounts_tables import ApiKeyRow, OrganizationRow, UserRow
from causerie.store.repository import new_id

KEY_PREFIX = "sk-cau-"
_DISPLAYED = len(KEY_PREFIX) + 4
MODE_CHECK_S = 2.0
"""How long personal mode is trusted before the store is asked again whether an organization exists."""
LAST_USED_RESOLUTION_S = 60.0
"""A key's ``last_used_at`` is written at most once a minute (not on every request)."""

Adopter = Callable[[str], int]
"""Gives the personal-mode objects of one kind (kept outside the database) to the first organization."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _key_out(row: ApiKeyRow) -> ApiKey:
    def stamp(value: float | None) -> int | None:
        return None if value is None else int(value)

    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix + "…",
        user_id=row.user_id,
        created_at=int(row.created_at),
        expires_at=stamp(row.expires_at),
        revoked_at=stamp(row.revoked_at),
        last_used_at=stamp(row.last_used_at),
    )


def _organization_out(row: OrganizationRow, adopted: int = 0) -> Organization:
    return Organization(id=row.id, name=row.name, created_at=int(row.created_at), adopted_conversations=adopted)


def _member_out(user: UserRow, role: str) -> Member:
    return Member(id=user.id, email=user.email, role=role, created_at=int(user.created_at))


class AccountService:
    def __init__(
        self,
        repository: AccountRepository,
        registry: Callable[[], ModelRegistry],
        settings: Settings,
        adopters: Sequence[Adopter] = (),
    ) -> None:
        self.repository = repository
        self._registry = registry
        """Called only by the admin API's grants: the CLI's commands never discover models."""
        self._settings = settings
        self._adopters = tuple(adopters)
        self._hasher = PasswordHasher()
        self._organizations_exist = False
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    # -- mode and authentication ---------------------------------------------------------------

    def organization_mode(self) -> bool:
        """True once an organization exists (or with ``CAUSERIE_AUTH=required``); checked at most every
        ``MODE_CHECK_S`` while false, so an organization created by the CLI takes effect within seconds."""
        if self._settings.auth == "required" or self._organizations_exist:
            return True
        now = time.monotonic()
        if now - self._checked_at >= MODE_CHECK_S:
            with self._lock:
                first = self.repository.first_organization()
                if first is not None:  # created by the CLI while this process runs: adopt what it holds too
                    self._adopt(first.id)
                self._organizations_exist = first is not None
                self._checked_at = now
        return self._organizations_exist

    def authenticate(self, key: str) -> Principal | None:
        """The principal an organization's key acts as; None for an unknown, revoked or expired key."""
        found = self.repository.key_by_hash(key_hash(key))
        if found is None:
            return None
        row, now = found.key, time.time()
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.user_id is not None and found.role is None:  # the user has left the organization
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION_S:
            self.repository.touch_key(row.id, now)
        role = Role(found.role) if found.role is not None else Role.member
        return Principal(row.organization_id, row.user_id, row.id, role)

    # -- the operator (causerie admin) ------------------------------------------------------------

    def create_organization(self, name: str) -> Organization:
        """A new organization; the first one adopts every personal-mode conversation, job and localized model."""
        row, adopted = self.repository.create_organization(name)
        first = self.repository.first_organization()
        if first is not None and first.id == row.id:
            self._adopt(row.id)
        self._organizations_exist = True
        return _organization_out(row, adopted)

    def add_user(self, organization: str, email: str, password: str | None, role: str) -> Member:
        """Add a member (a new user needs a ``password``; an existing one keeps theirs)."""
        org = self.repository.organization(organization)
        return self._add_member(org.id, email, password, role)

    def create_key(
        self, organization: str, *, user: str | None = None, name: str | None = None, expires: timedelta | None = None
    ) -> ApiKeyCreated:
        return self._create_key(self.repository.organization(organization).id, user, name, expires)

    def revoke_key(self, key_id: str) -> ApiKey:
        return _key_out(self.repository.revoke_key(key_id))

    def grant(self, organization: str, model_id: str) -> ModelGrant:
        """Let ``organization`` use ``model_id`` (which may be served later: the operator may grant ahead)."""
        org = self.repository.organization(organization)
        self.repository.grant(org.id, model_id)
        return ModelGrant(organization=org.name, model=model_id, granted=True)

    def revoke_grant(self, organization: str, model_id: str) -> ModelGrant:
        org = self.repository.organization(organization)
        self.repository.revoke_grant(org.id, model_id)
        return ModelGrant(organization=org.name, model=model_id, granted=False)

    # -- the admin API: an owner or admin, inside their organization -----------------------------

    def add_member(self, principal: Principal, email: str, password: str, role: str) -> Member:
        return self._add_member(self._administered(principal), email, password, role)

    def keys(self, principal: Principal) -> list[ApiKey]:
        return [_key_out(row) for row in self.repository.keys(self._administered(principal))]

    def create_key_for(
        self, principal: Principal, *, user: str | None, name: str | None, expires: timedelta | None
    ) -> ApiKeyCreated:
        return self._create_key(self._administered(principal), user, name, expires)

    def revoke_key_of(self, principal: Principal, key_id: str) -> ApiKey:
        return _key_out(self.repository.revoke_key(key_id, self._administered(principal)))

    def share_model(self, principal: Principal, model_id: str, organization: str, *, granted: bool) -> ModelGrant:
        """Grant (or take back) early access to a model that the principal's organization owns."""
        owner = self._administered(principal)
        if not any(s.id == model_id and s.organization_id == owner for s in self._registry().list()):
            raise ModelNotFound(f"The model '{model_id}' does not exist", param="model_id")
        return (self.grant if granted else self.revoke_grant)(organization, model_id)

    # -- shared ------------------------------------------------------------------------------------

    def _adopt(self, organization_id: str) -> None:
        """Personal-mode objects kept outside the database (job records, localized models) go to the first
        organization; idempotent, so the CLI that creates it and a server running meanwhile may both run it."""
        for adopt in self._adopters:
            adopt(organization_id)

    def _administered(self, principal: Principal) -> str:
        """The organization an owner or admin manages; ``PermissionDenied`` for anyone else."""
        if principal.organization_id == PERSONAL_ORGANIZATION_ID:
            raise PermissionDenied(
                "There is no organization to manage: create one with `causerie admin org create NAME`."
            )
        if not principal.is_admin:
            raise PermissionDenied("Only an organization's owners and admins may do this.")
        return principal.organization_id

    def _add_member(self, organization_id: str, email: str, password: str | None, role: str) -> Member:
        if role not in (Role.admin.value, Role.member.value):
            raise InvalidRequest(f"role must be admin or member, not '{role}'", param="role")
        if password is not None and len(password) < 8:
            raise InvalidRequest("the password must have at least 8 characters", param="password")
        hashed = self._hasher.hash(password) if password is not None else None
        user = self.repository.add_member(organization_id, email.strip().lower(), hashed, role)
        return _member_out(user, role)

    def _create_key(
        self, organization_id: str, user: str | None, name: str | None, expires: timedelta | None
    ) -> ApiKeyCreated:
        user_id = self.repository.member(organization_id, user.strip().lower())[0].id if user else None
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        row = ApiKeyRow(
            id=new_id("key"),
            organization_id=organization_id,
            user_id=user_id,
            name=name,
            key_hash=key_hash(secret),
            prefix=secret[:_DISPLAYED],
            created_at=now,
            expires_at=now + expires.total_seconds() if expires is not None else None,
        )
        self.repository.add_key(row)
        return ApiKeyCreated(**_key_out(row).model_dump(), key=secret)
