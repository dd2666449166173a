"""Monthly AI budgets: a cap per plan tier, a workspace's own cap, a soft warning, a hard stop.

The tier caps are FlashFusion's product defaults (not a vendor's figures); a workspace may set its
own cap in AI settings. Spend is the sum of the cost ledger for the calendar month (UTC). The check
runs before each generation, so one generation may overshoot the cap by its own cost.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

# Micro-USD per month (1 USD = 1,000,000).
PLAN_MONTHLY_CAP_MICROUSD: dict[str, int] = {
    "free": 2_000_000,
    "creator": 20_000_000,
    "pro": 100_000_000,
    "business": 500_000_000,
}


@dataclass(frozen=True)
class BudgetPolicy:
    cap_microusd: int
    soft_warning_percent: int
    hard_stop: bool
    offline_fallback: bool


@dataclass(frozen=True)
class BudgetDecision:
    allowed: bool  # may call paid providers
    offline_only: bool  # the cap is reached and the workspace falls back to offline
    warning: str | None
    spent_microusd: int
    cap_microusd: int


def usd(microusd: int) -> str:
    """`$12.34`; below a dollar with four decimals (`$0.0031`), since generations cost cents."""
    value = microusd / 1_000_000
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def decide(policy: BudgetPolicy, spent_microusd: int) -> BudgetDecision:
    cap = policy.cap_microusd
    over = spent_microusd >= cap
    warning = None
    if over:
        warning = (
            f"This month's AI budget of {usd(cap)} is used up ({usd(spent_microusd)} spent)."
            + (
                " Copy is written by the offline provider until next month; raise the budget "
                "in AI settings to use your AI providers again."
                if policy.offline_fallback
                else " Raise the budget in AI settings to generate more this month."
            )
        )
    elif cap and spent_microusd * 100 >= cap * policy.soft_warning_percent:
        warning = (
            f"{spent_microusd * 100 // cap}% of this month's AI budget of {usd(cap)} is used "
            f"({usd(spent_microusd)} spent)."
        )
    if over and not policy.hard_stop:
        return BudgetDecision(True, False, warning, spent_microusd, cap)
    if over:
        return BudgetDecision(False, policy.offline_fallback, warning, spent_microusd, cap)
    return BudgetDecision(True, False, warning, spent_microusd, cap)
