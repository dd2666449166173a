"""The built-in offline provider: composes from request.context, answers valid JSON for the schema
at zero cost, streams, and names the missing or invalid context field in a ProviderBadRequest."""

import json
from typing import Any

import pytest

from flashfusion.ai.providers.offline import MODEL, OfflineProvider
from flashfusion.ai.types import (
    AIRequest,
    Provider,
    ProviderBadRequest,
    TaskType,
    Unsupported,
    Usage,
)
from flashfusion.catalog.registry import get_catalog
from flashfusion.content.compose import VideoScript, compose_listing, compose_script
from flashfusion.content.draft import BrandVoiceProfile, ListingBrief, ListingDraft, Platform
from flashfusion.content.rules import get_rules, validate


def the_brief(**values: Any) -> ListingBrief:
    product_type = get_catalog().product_types["mug-15oz"]
    fields: dict[str, Any] = {
        "idea": "Plant Parent",
        "product_type": product_type.key,
        "product_type_name": product_type.name,
        "category": product_type.category,
        "platform": Platform.etsy,
        "keywords": ["plant lover gift"],
        "audience": "mom",
        "brand_voice": BrandVoiceProfile(tone=["warm"], vocabulary=["leafy"]),
        "seed": 3,
        **values,
    }
    return ListingBrief.model_validate(fields)


def request(task: TaskType = TaskType.listing_copy, **context: Any) -> AIRequest:
    if "brief" not in context:
        context["brief"] = the_brief().model_dump(mode="json")
    return AIRequest(task=task, context={k: v for k, v in context.items() if v is not ...})


provider = OfflineProvider()


def test_it_is_a_provider_that_does_only_what_composing_can() -> None:
    assert isinstance(provider, Provider)
    assert provider.name == "offline"
    assert {t for t in TaskType if provider.supports(t)} == {
        TaskType.listing_copy,
        TaskType.translation,
        TaskType.script,
    }
    assert {provider.default_model(t) for t in TaskType} == {"offline-composer-1"} == {MODEL}


async def test_listing_copy_is_the_composed_draft_for_the_rules_platform() -> None:
    response = await provider.complete(request(rules_platform="etsy"))
    assert response.provider == "offline"
    assert response.model == "offline-composer-1"
    assert response.usage == Usage(input_tokens=0, output_tokens=0, images=0)
    assert response.offline is True
    assert response.refused is False
    assert response.finish_reason == "stop"
    draft = ListingDraft.model_validate_json(response.text)
    assert draft == compose_listing(the_brief(), get_rules("etsy"))
    assert draft.title == "Plant Parent Large Mug, Plant Lover Gift, Gift for Mom"
    assert "leafy" in draft.description
    assert validate(draft, get_rules("etsy"), brand_voice=the_brief().brand_voice) == []


async def test_the_rules_platform_decides_the_fields() -> None:
    amazon = ListingDraft.model_validate_json(
        (await provider.complete(request(rules_platform="amazon"))).text
    )
    assert amazon.bullets
    assert amazon.tags == []
    assert amazon == compose_listing(the_brief(), get_rules("amazon"))
    # Without rules_platform the brief's own platform (Etsy) is used.
    default = ListingDraft.model_validate_json((await provider.complete(request())).text)
    assert default == compose_listing(the_brief(), get_rules("etsy"))


async def test_translation_composes_the_listing_afresh_in_the_target_language() -> None:
    response = await provider.complete(
        request(TaskType.translation, rules_platform="etsy", target_language="de")
    )
    german = ListingDraft.model_validate_json(response.text)
    assert german == compose_listing(the_brief(language="de"), get_rules("etsy"))
    assert "Ideal für: Mama" in german.description
    assert response.usage == Usage()
    # Without target_language the brief already carries the language to write in.
    japanese = await provider.complete(
        request(
            TaskType.translation,
            brief=the_brief(language="ja").model_dump(mode="json"),
            rules_platform="etsy",
        )
    )
    assert ListingDraft.model_validate_json(japanese.text) == compose_listing(
        the_brief(language="ja"), get_rules("etsy")
    )


async def test_script_is_a_timed_video_script() -> None:
    response = await provider.complete(
        request(TaskType.script, script_platform="youtube_shorts", seconds=45)
    )
    script = VideoScript.model_validate_json(response.text)
    assert script == compose_script(the_brief(), platform="youtube_shorts", seconds=45)
    assert sum(scene.seconds for scene in script.scenes) == 45
    assert response.usage == Usage()
    assert response.offline is True
    default = VideoScript.model_validate_json(
        (await provider.complete(request(TaskType.script))).text
    )
    assert default == compose_script(the_brief(), platform="tiktok", seconds=30)


async def test_a_brief_object_is_accepted_as_well_as_its_json() -> None:
    response = await provider.complete(
        AIRequest(task=TaskType.listing_copy, context={"brief": the_brief()})
    )
    assert ListingDraft.model_validate_json(response.text) == compose_listing(
        the_brief(), get_rules("etsy")
    )


async def test_stream_sends_the_json_in_a_few_deltas_then_done() -> None:
    events = [event async for event in provider.stream(request(rules_platform="shopify"))]
    deltas = [e for e in events if e.type == "delta"]
    assert 1 < len(deltas) <= 4
    assert [e.type for e in events] == ["delta"] * len(deltas) + ["done"]
    done = events[-1]
    assert done.response is not None
    assert "".join(d.text for d in deltas) == done.text == done.response.text
    assert done.response == await provider.complete(request(rules_platform="shopify"))
    json.loads(done.text)


@pytest.mark.parametrize(
    ("task", "context", "message"),
    [
        (TaskType.listing_copy, {"brief": ...}, "request.context['brief'] is missing"),
        (TaskType.listing_copy, {"brief": {"idea": "x"}}, "product_type: Field required"),
        (TaskType.listing_copy, {"brief": {**the_brief().model_dump(mode="json"), "idea": ""}},
         "idea: String should have at least 1 character"),
        (TaskType.listing_copy, {"brief": "a mug that says hi"}, "is not a valid ListingBrief"),
        (TaskType.listing_copy, {"brief": the_brief(language="xx").model_dump(mode="json")},
         "request.context['brief'].language 'xx'"),
        (TaskType.listing_copy, {"rules_platform": "myspace"},
         "request.context['rules_platform']: Unknown platform 'myspace'"),
        (TaskType.listing_copy, {"rules_platform": 7}, "request.context['rules_platform'] must be"),
        (TaskType.translation, {"target_language": "tlh"},
         "request.context['target_language'] 'tlh' is not a supported language"),
        (TaskType.script, {"seconds": "30"}, "request.context['seconds'] must be a whole number"),
        (TaskType.script, {"seconds": True}, "request.context['seconds'] must be a whole number"),
        (TaskType.script, {"seconds": 900}, "request.context['seconds']: seconds must be between"),
        (TaskType.script, {"script_platform": "vine"},
         "request.context['script_platform']: unknown video platform 'vine'"),
    ],
)  # fmt: skip
async def test_missing_or_invalid_context_is_a_bad_request_naming_the_field(
    task: TaskType, context: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProviderBadRequest) as raised:
        await provider.complete(request(task, **context))
    assert raised.value.provider == "offline"
    assert message in raised.value.message
    assert raised.value.retryable is False
    with pytest.raises(ProviderBadRequest):
        [event async for event in provider.stream(request(task, **context))]


@pytest.mark.parametrize("task", [TaskType.research, TaskType.moderation, TaskType.image])
async def test_tasks_that_need_a_model_are_unsupported(task: TaskType) -> None:
    with pytest.raises(Unsupported, match=f"cannot do {task.value}"):
        await provider.complete(request(task))


async def test_a_model_other_than_its_own_is_a_bad_request() -> None:
    call = request().model_copy(update={"model": "gpt-5.4-nano"})
    with pytest.raises(ProviderBadRequest, match="unknown model 'gpt-5.4-nano'"):
        await provider.complete(call)
    own = request().model_copy(update={"model": MODEL})
    assert (await provider.complete(own)).model == MODEL
    await provider.aclose()
