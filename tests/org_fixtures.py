"""Two organizations on one in-process app over the fake engine: Acme and Beta, each with an admin, a member
and a service key; Acme owns a localized model (``fake-fr``); ``fake-preview`` is a preview model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from causerie.api.app import create_app
from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.principal import Principal
from causerie.protocol.admin import Organization
from causerie.services.container import Container
from tests.conftest import fake_spec

PASSWORDS = {"admin": "correct horse battery", "member": "staple of the garden"}


def spec(model_id: str, engine: FakeEngine, **fields: object) -> ModelSpec:
    return ModelSpec(id=model_id, path=None, created=1, factory=lambda settings: engine, **fields)  # type: ignore[arg-type]


@dataclass
class Orgs:
    app: FastAPI
    client: TestClient
    container: Container
    registry: ModelRegistry
    a: Organization
    b: Organization
    keys: dict[str, str] = field(default_factory=dict)
    """``a_admin``, ``a_member``, ``a_service``, ``b_admin``… -> the key itself."""
    key_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"} if who else {}

    def principal(self, who: str) -> Principal:
        principal = self.container.accounts.authenticate(self.keys[who])
        assert principal is not None
        return principal


def org_settings(tmp_path: Path, **fields: object) -> Settings:
    return Settings(data_dir=tmp_path, language_consistency=False, preview_models=["fake-preview"], **fields)  # type: ignore[arg-type]


def add_people(container: Container, orgs: Orgs, org: Organization, prefix: str) -> None:
    accounts = container.accounts
    for role in ("admin", "member"):
        email = f"{role}@{prefix}.example"
        accounts.add_user(org.name, email, PASSWORDS[role], role)
        created = accounts.create_key(org.name, user=email, name=f"{prefix} {role}")
        orgs.keys[f"{prefix}_{role}"], orgs.key_ids[f"{prefix}_{role}"] = created.key, created.id
    service = accounts.create_key(org.name, name=f"{prefix} service")
    orgs.keys[f"{prefix}_service"], orgs.key_ids[f"{prefix}_service"] = service.key, service.id


@pytest.fixture
def orgs(tmp_path: Path) -> Iterator[Orgs]:
    engine = FakeEngine(reply=lambda request: "Bonjour.")
    registry = ModelRegistry([fake_spec(engine), spec("fake-preview", engine, source="custom")])
    app = create_app(org_settings(tmp_path), registry)
    with TestClient(app) as client:
        container: Container = app.state.container
        a = container.accounts.create_organization("Acme")
        b = container.accounts.create_organization("Beta")
        found = Orgs(app, client, container, registry, a, b)
        add_people(container, found, a, "a")
        add_people(container, found, b, "b")
        registry.register(spec("fake-fr", engine, source="localized", language="fr", organization_id=a.id))
        yield found
