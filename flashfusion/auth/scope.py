"""API key scopes: `resource:read|write`, one pair per domain as domains appear."""

from enum import StrEnum


class Scope(StrEnum):
    organizations_read = "organizations:read"
    organizations_write = "organizations:write"
    members_read = "members:read"
    members_write = "members:write"
    api_keys_read = "api_keys:read"
    api_keys_write = "api_keys:write"
    audit_read = "audit:read"
    jobs_read = "jobs:read"
    jobs_write = "jobs:write"
    designs_read = "designs:read"
    designs_write = "designs:write"
    products_read = "products:read"
    products_write = "products:write"
    content_read = "content:read"
    content_write = "content:write"
    ai_read = "ai:read"
    ai_write = "ai:write"
    safeguards_read = "safeguards:read"
    safeguards_write = "safeguards:write"
    connections_read = "connections:read"
    connections_write = "connections:write"
    publishing_read = "publishing:read"
    publishing_write = "publishing:write"
    orders_read = "orders:read"


SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.organizations_read: "Read the workspace's name and settings.",
    Scope.organizations_write: "Rename the workspace and change its settings.",
    Scope.members_read: "List members and pending invitations.",
    Scope.members_write: "Invite, change the role of and remove members.",
    Scope.api_keys_read: "List API keys (never their secret values).",
    Scope.api_keys_write: "Create and revoke API keys.",
    Scope.audit_read: "Read and export the audit log.",
    Scope.jobs_read: "List background jobs, their steps and errors.",
    Scope.jobs_write: "Cancel, resume and retry background jobs.",
    Scope.designs_read: "Read designs, versions, uploads, renders, print files and mockups.",
    Scope.designs_write: "Create and edit designs, upload images, start renders.",
    Scope.products_read: "Read the catalog, products, variants, prices and pricing rules.",
    Scope.products_write: "Create and edit products, prices, pricing rules, catalog overrides.",
    Scope.content_read: "Read listing copy, versions, brand voices, experiments and batches.",
    Scope.content_write: (
        "Generate, edit and revert listing copy; manage brand voices, experiments, batches."
    ),
    Scope.ai_read: "Read the AI cost ledger, cost summaries and budget status.",
    Scope.ai_write: "Change AI provider keys, provider chains and budgets.",
    Scope.safeguards_read: "Read safeguard reports and settings; screen a phrase.",
    Scope.safeguards_write: "Screen products now; change safeguard settings (admins).",
    Scope.connections_read: "List platform connections, their health and quota use.",
    Scope.connections_write: "Connect, reconnect and disconnect platform accounts (admins).",
    Scope.publishing_read: "Read channel listings, their per-channel state and publish history.",
    Scope.publishing_write: "Publish, update, retry and unpublish products on channels.",
    Scope.orders_read: "Read orders imported from connected platforms, with their line items.",
}

ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


def parse_scopes(values: list[str]) -> set[Scope]:
    """Validate scope names; raises ValueError naming the unknown ones."""
    unknown = sorted(set(values) - {s.value for s in Scope})
    if unknown:
        raise ValueError(
            f"unknown scope(s): {', '.join(unknown)}; valid scopes: "
            + ", ".join(s.value for s in Scope)
        )
    return {Scope(v) for v in values}
