"""The role -> permission table: the single source for checks and for the docs."""

from enum import StrEnum

from flashfusion.auth.scope import Scope
from flashfusion.models.member import Role


class Permission(StrEnum):
    organization_read = "organization:read"
    organization_manage = "organization:manage"
    organization_transfer = "organization:transfer"
    members_read = "members:read"
    members_manage = "members:manage"
    api_keys_read = "api_keys:read"
    api_keys_manage = "api_keys:manage"
    audit_read = "audit:read"
    jobs_read = "jobs:read"
    jobs_manage = "jobs:manage"
    designs_read = "designs:read"
    designs_manage = "designs:manage"
    products_read = "products:read"
    products_manage = "products:manage"
    pricing_manage = "pricing:manage"
    catalog_manage = "catalog:manage"
    content_read = "content:read"
    content_manage = "content:manage"
    ai_usage_read = "ai_usage:read"
    ai_manage = "ai:manage"
    safeguards_read = "safeguards:read"
    safeguards_manage = "safeguards:manage"
    safeguards_override = "safeguards:override"
    safeguards_configure = "safeguards:configure"
    connections_read = "connections:read"
    connections_manage = "connections:manage"
    publishing_read = "publishing:read"
    publishing_manage = "publishing:manage"
    orders_read = "orders:read"


PERMISSION_DESCRIPTIONS: dict[Permission, str] = {
    Permission.organization_read: "See the workspace",
    Permission.organization_manage: "Rename the workspace, change its settings",
    Permission.organization_transfer: "Transfer ownership of the workspace",
    Permission.members_read: "See members and invitations",
    Permission.members_manage: "Invite, change roles of and remove members of a lower role",
    Permission.api_keys_read: "See API keys",
    Permission.api_keys_manage: "Create and revoke API keys",
    Permission.audit_read: "Read and export the audit log",
    Permission.jobs_read: "See background jobs",
    Permission.jobs_manage: "Cancel, resume and retry background jobs",
    Permission.designs_read: "See designs, uploads, print files and mockups",
    Permission.designs_manage: "Create, edit, upload to and render designs",
    Permission.products_read: "See products, variants, prices and pricing rules",
    Permission.products_manage: "Create, edit and delete products and their prices",
    Permission.pricing_manage: "Create and change the workspace's pricing rules",
    Permission.catalog_manage: "Override the product catalog (own costs, disabled variants)",
    Permission.content_read: "See listing copy, its versions, brand voices and A/B experiments",
    Permission.content_manage: (
        "Generate, edit and revert listing copy; brand voices, experiments, batches"
    ),
    Permission.ai_usage_read: "See the AI cost ledger, costs and budgets",
    Permission.ai_manage: "Set AI provider keys, provider chains and budgets",
    Permission.safeguards_read: "See safeguard reports and settings; check a phrase",
    Permission.safeguards_manage: "Screen products and re-screen them",
    Permission.safeguards_override: "Override a blocked or warned safeguard report, with a reason",
    Permission.safeguards_configure: "Change safeguard thresholds and settings",
    Permission.connections_read: "See platform connections, their health and quota use",
    Permission.connections_manage: "Connect, reconnect and disconnect platform accounts",
    Permission.publishing_read: "See channel listings, their state and publish history",
    Permission.publishing_manage: "Publish, update, retry and unpublish products on channels",
    Permission.orders_read: "See orders, their line items and customers",
}

_VIEWER = {
    Permission.organization_read,
    Permission.members_read,
    Permission.designs_read,
    Permission.products_read,
    Permission.content_read,
    Permission.safeguards_read,
    Permission.connections_read,
    Permission.publishing_read,
}
_EDITOR = _VIEWER | {
    Permission.api_keys_read,
    Permission.api_keys_manage,
    Permission.jobs_read,
    Permission.designs_manage,
    Permission.products_manage,
    Permission.content_manage,
    Permission.ai_usage_read,
    Permission.safeguards_manage,
    Permission.publishing_manage,
    Permission.orders_read,
}
_ADMIN = _EDITOR | {
    Permission.organization_manage,
    Permission.members_manage,
    Permission.audit_read,
    Permission.jobs_manage,
    Permission.pricing_manage,
    Permission.catalog_manage,
    Permission.ai_manage,
    Permission.safeguards_override,
    Permission.safeguards_configure,
    Permission.connections_manage,
}
_OWNER = _ADMIN | {Permission.organization_transfer}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.viewer: frozenset(_VIEWER),
    Role.editor: frozenset(_EDITOR),
    Role.admin: frozenset(_ADMIN),
    Role.owner: frozenset(_OWNER),
}

# The scope an API key needs for each permission; None: never through an API key.
PERMISSION_SCOPE: dict[Permission, Scope | None] = {
    Permission.organization_read: Scope.organizations_read,
    Permission.organization_manage: Scope.organizations_write,
    Permission.organization_transfer: None,
    Permission.members_read: Scope.members_read,
    Permission.members_manage: Scope.members_write,
    Permission.api_keys_read: Scope.api_keys_read,
    Permission.api_keys_manage: Scope.api_keys_write,
    Permission.audit_read: Scope.audit_read,
    Permission.jobs_read: Scope.jobs_read,
    Permission.jobs_manage: Scope.jobs_write,
    Permission.designs_read: Scope.designs_read,
    Permission.designs_manage: Scope.designs_write,
    Permission.products_read: Scope.products_read,
    Permission.products_manage: Scope.products_write,
    Permission.pricing_manage: Scope.products_write,
    Permission.catalog_manage: Scope.products_write,
    Permission.content_read: Scope.content_read,
    Permission.content_manage: Scope.content_write,
    Permission.ai_usage_read: Scope.ai_read,
    Permission.ai_manage: Scope.ai_write,
    Permission.safeguards_read: Scope.safeguards_read,
    Permission.safeguards_manage: Scope.safeguards_write,
    # A human decision with a reason: never through an API key.
    Permission.safeguards_override: None,
    Permission.safeguards_configure: Scope.safeguards_write,
    Permission.connections_read: Scope.connections_read,
    Permission.connections_manage: Scope.connections_write,
    Permission.publishing_read: Scope.publishing_read,
    Permission.publishing_manage: Scope.publishing_write,
    Permission.orders_read: Scope.orders_read,
}


def role_has(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def can_assign(actor: Role, target_role: Role) -> bool:
    """Roles an actor may hand out: up to its own rank, never ownership (that is a transfer)."""
    return target_role != Role.owner and target_role.rank <= actor.rank


def can_manage(actor: Role, target: Role) -> bool:
    """Whom an actor may change or remove: the owner anyone else, others strictly lower ranks."""
    if target == Role.owner:
        return False
    return actor == Role.owner or target.rank < actor.rank
