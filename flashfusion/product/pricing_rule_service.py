"""Pricing rules of a workspace: target margin or markup, rounding, minimum profit, channel."""

import builtins
import uuid

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.audit.service import audit as audit_service
from flashfusion.auth.models import AuthSubject, Subject
from flashfusion.authz.permission import Permission
from flashfusion.authz.service import authz
from flashfusion.exceptions import ResourceNotFound, UnprocessableEntity
from flashfusion.kit.pagination import PaginationParams
from flashfusion.models import PricingRule
from flashfusion.product import pricing
from flashfusion.product.repository import PricingRuleRepository
from flashfusion.product.schemas import PricingRuleCreate, PricingRuleUpdate

# The rule a workspace prices with until it makes its own: a FlashFusion starting point (a
# product choice, not a platform figure), shown in the app so nobody mistakes it for advice.
STARTER_RULE = {
    "mode": "margin",
    "target_bps": 4000,
    "rounding": "99",
    "min_profit": 500,
    "currency": "USD",
    "include_shipping": False,
}


class InvalidPricingRule(UnprocessableEntity):
    """The rule's values don't make a price."""


def rule_spec(rule: PricingRule | None) -> pricing.PricingRule:
    """The pricing engine's rule for a stored rule (or the starter rule)."""
    values = (
        STARTER_RULE
        if rule is None
        else {
            "mode": rule.mode,
            "target_bps": rule.target_bps,
            "rounding": rule.rounding,
            "min_profit": rule.min_profit,
            "currency": rule.currency,
            "include_shipping": rule.include_shipping,
        }
    )
    return pricing.PricingRule(**values)  # type: ignore[arg-type]


def _problems(error: ValidationError) -> str:
    """The engine's own messages (they start with the field), without pydantic's wrapping."""
    messages = []
    for e in error.errors(include_url=False):
        message = str(e["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in e["loc"])
        messages.append(
            message if not field or message.startswith(f"{field}:") else f"{field}: {message}"
        )
    return "; ".join(messages)


def _check(values: dict[str, object]) -> None:
    try:
        spec = pricing.PricingRule(**{k: values[k] for k in STARTER_RULE})  # type: ignore[arg-type]
    except ValidationError as e:
        raise InvalidPricingRule(_problems(e)) from e
    try:
        fees = pricing.load_fee_schedule(str(values["channel"]))
    except LookupError as e:
        # The fee module's message already starts with `channel: `.
        raise InvalidPricingRule(str(e)) from e
    if spec.currency != fees.currency:
        raise InvalidPricingRule(
            f"currency: {values['channel']} fees are in {fees.currency}; use {fees.currency} "
            "or another channel."
        )


class PricingRuleService:
    async def list(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        *,
        organization_id: uuid.UUID | None,
        pagination: PaginationParams,
    ) -> tuple[builtins.list[PricingRule], int]:
        readable = await authz.get_readable_org_ids(
            session,
            auth_subject,
            Permission.products_read,
            organization_id=organization_id,
            action="pricing_rule.list",
        )
        repository = PricingRuleRepository.from_session(session)
        return await repository.paginate(repository.ordered(readable), pagination)

    async def get(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        id: uuid.UUID,
        *,
        permission: Permission = Permission.products_read,
        action: str = "pricing_rule.read",
    ) -> PricingRule:
        ids = await authz.get_accessible_org_ids(session, auth_subject)
        rule = await PricingRuleRepository.from_session(session).get_for_organizations(id, ids)
        if rule is None:
            raise ResourceNotFound("Pricing rule")
        await authz.require(
            session,
            auth_subject,
            rule.organization_id,
            permission,
            action=action,
            target_type="pricing_rule",
            target_id=rule.id,
        )
        return rule

    async def resolve(
        self,
        session: AsyncSession,
        organization_id: uuid.UUID,
        id: uuid.UUID | None,
        *,
        strict: bool = True,
    ) -> PricingRule | None:
        """The named rule of this workspace (422 if it isn't one), else its default rule.

        `strict=False` is for a product's stored rule id: a rule deleted since then falls back
        to the default rule instead of failing the product."""
        repository = PricingRuleRepository.from_session(session)
        if id is not None:
            rule = await repository.get_for_organizations(id, {organization_id})
            if rule is not None:
                return rule
            if strict:
                raise InvalidPricingRule("pricing_rule_id: no such pricing rule in this workspace.")
        return await repository.default_for(organization_id)

    async def create(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        organization_id: uuid.UUID,
        body: PricingRuleCreate,
    ) -> PricingRule:
        await authz.accessible_organization(
            session,
            auth_subject,
            organization_id,
            Permission.pricing_manage,
            action="pricing_rule.created",
        )
        values = body.model_dump(exclude={"organization_id"})
        _check(values)
        repository = PricingRuleRepository.from_session(session)
        if body.is_default:
            await repository.clear_default(organization_id)
        rule = PricingRule(organization_id=organization_id, **values)
        await repository.create(rule)
        await audit_service.record(
            session,
            auth_subject,
            action="pricing_rule.created",
            organization_id=organization_id,
            target_type="pricing_rule",
            target_id=rule.id,
            details={k: v for k, v in values.items()},
        )
        return rule

    async def update(
        self,
        session: AsyncSession,
        auth_subject: AuthSubject[Subject],
        rule: PricingRule,
        body: PricingRuleUpdate,
    ) -> PricingRule:
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        merged = {
            **{
                k: getattr(rule, k)
                for k in ("mode", "target_bps", "rounding", "min_profit", "currency")
            },
            "include_shipping": rule.include_shipping,
            "channel": rule.channel,
            **changes,
        }
        _check(merged)
        repository = PricingRuleRepository.from_session(session)
        if changes.get("is_default"):
            await repository.clear_default(rule.organization_id)
        await repository.update(rule, values=changes)
        await audit_service.record(
            session,
            auth_subject,
            action="pricing_rule.updated",
            organization_id=rule.organization_id,
            target_type="pricing_rule",
            target_id=rule.id,
            details=changes,
        )
        return rule

    async def delete(
        self, session: AsyncSession, auth_subject: AuthSubject[Subject], rule: PricingRule
    ) -> PricingRule:
        rule.set_deleted_at()
        rule.is_default = False
        await session.flush()
        await audit_service.record(
            session,
            auth_subject,
            action="pricing_rule.deleted",
            organization_id=rule.organization_id,
            target_type="pricing_rule",
            target_id=rule.id,
        )
        return rule


pricing_rule = PricingRuleService()
