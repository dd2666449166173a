"""The built-in offline provider: listing copy, translations and video scripts with no model.

It answers from `request.context` — the structured brief the prompt was rendered from — and never
reads the prompt text: `flashfusion.content.compose` writes the copy from templates and catalog
facts. So it does only what composing can do honestly:

- `listing_copy`: a `ListingDraft` for `context["rules_platform"]` (default: the brief's platform);
- `translation`: the listing composed afresh in the target language (`context["target_language"]`,
  default the brief's language), not a translation of free text;
- `script`: a `VideoScript` for `context["script_platform"]` (default "tiktok"),
  `context["seconds"]` long (default 30).

Research, moderation and images need a model (or a search index): `supports` is False for them.
Answers cost nothing, so usage is always zero tokens.
"""

from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import ValidationError

from flashfusion.ai.types import (
    AIRequest,
    AIResponse,
    ProviderBadRequest,
    StreamEvent,
    TaskType,
    Unsupported,
    Usage,
)
from flashfusion.content.compose import compose_listing, compose_script
from flashfusion.content.draft import LANGUAGES, ListingBrief
from flashfusion.content.rules import get_rules

MODEL = "offline-composer-1"
TASKS = frozenset({TaskType.listing_copy, TaskType.translation, TaskType.script})
DEFAULT_SCRIPT_PLATFORM = "tiktok"
DEFAULT_SCRIPT_SECONDS = 30
# A stream arrives in this many pieces, so streaming UIs behave as they do with a real model.
STREAM_DELTAS = 4


class OfflineProvider:
    """Composes answers locally; needs no key, no network and no base URL."""

    name = "offline"

    def supports(self, task: TaskType) -> bool:
        return task in TASKS

    def default_model(self, task: TaskType) -> str:
        return MODEL

    async def complete(self, request: AIRequest) -> AIResponse:
        return AIResponse(
            text=self._compose(request),
            provider=self.name,
            model=MODEL,
            usage=Usage(),
            offline=True,
        )

    async def stream(self, request: AIRequest) -> AsyncIterator[StreamEvent]:
        response = await self.complete(request)
        text = response.text
        size = -(-len(text) // STREAM_DELTAS)  # ceiling division: at most STREAM_DELTAS pieces
        for start in range(0, len(text), size):
            yield StreamEvent(type="delta", text=text[start : start + size])
        yield StreamEvent(type="done", text=text, response=response)

    async def aclose(self) -> None:
        """Nothing to close: no client, no connections."""

    # --- composing ---------------------------------------------------------------------------

    def _compose(self, request: AIRequest) -> str:
        if not self.supports(request.task):
            raise Unsupported(
                self.name,
                f"the offline provider cannot do {request.task.value}; it needs a model — "
                "add a provider that does it in AI settings",
            )
        if request.model not in (None, MODEL):
            raise ProviderBadRequest(
                self.name, f"unknown model {request.model!r}; the offline provider has {MODEL!r}"
            )
        context = request.context
        brief = self._brief(context)
        if request.task is TaskType.script:
            platform = _text(context, "script_platform", DEFAULT_SCRIPT_PLATFORM)
            seconds = context.get("seconds", DEFAULT_SCRIPT_SECONDS)
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise ProviderBadRequest(
                    self.name,
                    f"request.context['seconds'] must be a whole number of seconds, "
                    f"got {seconds!r}",
                )
            try:
                script = compose_script(brief, platform=platform, seconds=seconds)
            except ValueError as e:
                field = "seconds" if "seconds" in str(e) else "script_platform"
                raise ProviderBadRequest(self.name, f"request.context['{field}']: {e}") from e
            return script.model_dump_json()

        if request.task is TaskType.translation:
            language = _text(context, "target_language", brief.language)
            if language not in LANGUAGES:
                raise ProviderBadRequest(
                    self.name,
                    f"request.context['target_language'] {language!r} is not a supported "
                    f"language; use one of {', '.join(LANGUAGES)}",
                )
            brief = brief.model_copy(update={"language": language})
        platform = _text(context, "rules_platform", brief.platform.value)
        try:
            rules = get_rules(platform)
        except ValueError as e:
            raise ProviderBadRequest(self.name, f"request.context['rules_platform']: {e}") from e
        return compose_listing(brief, rules).model_dump_json()

    def _brief(self, context: Mapping[str, Any]) -> ListingBrief:
        raw = context.get("brief")
        if raw is None:
            raise ProviderBadRequest(
                self.name,
                "request.context['brief'] is missing: the offline provider composes from the "
                "structured brief (a ListingBrief), not from the prompt",
            )
        try:
            brief = ListingBrief.model_validate(raw)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'brief'}: {err['msg']}"
                for err in e.errors()
            )
            raise ProviderBadRequest(
                self.name, f"request.context['brief'] is not a valid ListingBrief: {problems}"
            ) from e
        if brief.language not in LANGUAGES:
            raise ProviderBadRequest(
                self.name,
                f"request.context['brief'].language {brief.language!r} is not a supported "
                f"language; use one of {', '.join(LANGUAGES)}",
            )
        return brief


def _text(context: Mapping[str, Any], key: str, default: str) -> str:
    value = context.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ProviderBadRequest(
            OfflineProvider.name, f"request.context['{key}'] must be a string, got {value!r}"
        )
    return value
