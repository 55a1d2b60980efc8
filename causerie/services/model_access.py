"""Which models a principal may use: the one rule behind ``/v1/models`` and every model lookup.

Personal mode (the ``PERSONAL`` principal) may use every model. An organization may use the shared
models (every model that is not localized, except those the operator marks ``preview``), its own
localized models (a localized model is private to the organization whose run produced it) and the
models granted to it (``causerie admin models grant``, or the owner of a localized model granting
early access). Anything else is answered as a model that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.principal import PERSONAL_ORGANIZATION_ID, Principal


class ModelAccess:
    def __init__(
        self, registry: ModelRegistry, grants: Callable[[str], set[str]], preview: Collection[str] = ()
    ) -> None:
        self._registry = registry
        self._grants = grants
        """Organization id -> the model ids granted to it (read from the store when asked)."""
        self._preview = frozenset(preview)

    def allowed(self, principal: Principal) -> frozenset[str] | None:
        """The model ids ``principal`` may use; None: every model (personal mode)."""
        organization = principal.organization_id
        if organization == PERSONAL_ORGANIZATION_ID:
            return None
        granted = self._grants(organization)
        return frozenset(spec.id for spec in self._registry.list() if self._may_use(spec, organization, granted))

    def _may_use(self, spec: ModelSpec, organization: str, granted: set[str]) -> bool:
        if spec.id in granted or spec.organization_id == organization:
            return True
        return spec.organization_id is None and spec.source != "localized" and spec.id not in self._preview
