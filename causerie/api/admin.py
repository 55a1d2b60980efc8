"""The admin API under /v1/admin: an organization's owners and admins manage its members, keys and model grants.

Who may do what is the accounts service's rule (403 for a member, 404 for another organization's key
or model). Organizations themselves are created by the operator (``causerie admin org create``): no
tenant creates tenants, and in personal mode anyone who can reach the server could otherwise lock it.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from causerie.api.deps import AccountsDep, PrincipalDep
from causerie.api.errors import error_responses
from causerie.protocol.admin import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    Member,
    ModelGrant,
    ModelGrantCreate,
    UserCreate,
    parse_duration,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=error_responses(400, 403, 404, 409))


@router.post("/users", response_model=Member, status_code=201)
async def add_member(body: UserCreate, accounts: AccountsDep, principal: PrincipalDep) -> Member:
    """Add a member (a new user gets this password; an existing one keeps theirs)."""
    password = body.password.get_secret_value()
    return await run_in_threadpool(accounts.add_member, principal, body.email, password, body.role)


@router.get("/keys", response_model=ApiKeyList)
def list_keys(accounts: AccountsDep, principal: PrincipalDep) -> ApiKeyList:
    return ApiKeyList(data=accounts.keys(principal))


@router.post("/keys", response_model=ApiKeyCreated, status_code=201)
def create_key(body: ApiKeyCreate, accounts: AccountsDep, principal: PrincipalDep) -> ApiKeyCreated:
    """A new key, shown this once in ``key``."""
    expires = parse_duration(body.expires) if body.expires else None
    return accounts.create_key_for(principal, user=body.user, name=body.name, expires=expires)


@router.delete("/keys/{key_id}", response_model=ApiKey)
def revoke_key(key_id: str, accounts: AccountsDep, principal: PrincipalDep) -> ApiKey:
    return accounts.revoke_key_of(principal, key_id)


@router.post("/models/{model_id}/grants", response_model=ModelGrant)
def grant_model(model_id: str, body: ModelGrantCreate, accounts: AccountsDep, principal: PrincipalDep) -> ModelGrant:
    """Early access: let another organization use a model that this organization owns (a localized model)."""
    return accounts.share_model(principal, model_id, body.organization, granted=True)


@router.delete("/models/{model_id}/grants/{organization}", response_model=ModelGrant)
def revoke_model(model_id: str, organization: str, accounts: AccountsDep, principal: PrincipalDep) -> ModelGrant:
    return accounts.share_model(principal, model_id, organization, granted=False)
