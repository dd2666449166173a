"""Every bundled rule pack loads, is sourced, and every rule does what its own examples say:
each `hit` fires the rule, no `miss` (its exceptions, near-misses) does."""

import json
import re
from pathlib import Path

import pytest

from flashfusion.safeguard.moderation.engine import PACKS_DIR, CompiledRule, engine, pack_versions
from flashfusion.safeguard.moderation.pack import FLASHFUSION_LABEL, Pack, Rule, load_packs
from flashfusion.safeguard.moderation.text import fold

PACKS = load_packs(PACKS_DIR)
RULES = [(pack, rule) for pack in PACKS.values() for rule in pack.rules]


def rule_id(item: tuple[Pack, Rule]) -> str:
    return item[1].id


def test_the_six_packs_load_with_their_versions() -> None:
    assert sorted(PACKS) == ["amazon", "claims", "etsy", "generic", "ip", "tiktok_shop"]
    assert pack_versions() == {
        "amazon": "1.0.0",
        "claims": "1.0.0",
        "etsy": "1.0.0",
        "generic": "1.0.0",
        "ip": "1.0.0",
        "tiktok_shop": "1.0.0",
    }
    assert engine() is engine()  # loaded and compiled once


def test_pack_files_are_the_only_json_in_the_directory() -> None:
    assert sorted(p.name for p in PACKS_DIR.iterdir() if p.is_file()) == [
        "amazon.json",
        "claims.json",
        "etsy.json",
        "generic.json",
        "ip.json",
        "tiktok_shop.json",
    ]


@pytest.mark.parametrize("item", RULES, ids=rule_id)
def test_every_rule_is_sourced_or_labelled_flashfusion(item: tuple[Pack, Rule]) -> None:
    pack, rule = item
    assert rule.id.startswith(f"{pack.id}.")
    if rule.source is None:
        assert rule.label == FLASHFUSION_LABEL
    else:
        assert re.match(r"^https?://\S+$", rule.source)
    for override in rule.platforms.values():
        assert re.match(r"^https?://\S+$", override.source)


def test_platform_packs_cite_platform_pages_and_generic_is_flashfusion_only() -> None:
    assert all(rule.source is None for rule in PACKS["generic"].rules)
    for pack_id in ("etsy", "amazon", "tiktok_shop", "claims", "ip"):
        assert all(rule.source is not None for rule in PACKS[pack_id].rules), pack_id


@pytest.mark.parametrize("item", RULES, ids=rule_id)
def test_every_hit_example_fires_the_rule(item: tuple[Pack, Rule]) -> None:
    pack, rule = item
    compiled = CompiledRule.build(pack, rule)
    for example in rule.examples.hit:
        assert compiled.matches(fold(example)), f"{rule.id} should fire on {example!r}"


@pytest.mark.parametrize("item", RULES, ids=rule_id)
def test_no_miss_example_fires_the_rule(item: tuple[Pack, Rule]) -> None:
    pack, rule = item
    compiled = CompiledRule.build(pack, rule)
    for example in rule.examples.miss:
        found = [example[m.start : m.end] for m in compiled.matches(fold(example))]
        assert found == [], f"{rule.id} should not fire on {example!r}, matched {found}"


def test_ip_character_rules_name_their_owner_in_the_reason() -> None:
    characters = [r for r in PACKS["ip"].rules if r.kind == "character"]
    assert len(characters) >= 20
    for rule in characters:
        assert rule.reason is not None
        assert rule.reason.startswith("character owned by ")
        assert rule.reason.removeprefix("character owned by ") in rule.title
    names = sum(len(p.phrases) + (p.regex is not None) for r in characters for p in r.patterns)
    assert 100 <= names <= 200


def test_the_worst_items_have_non_english_patterns() -> None:
    langs = {p.lang for r in PACKS["generic"].rules for p in r.patterns}
    assert {"en", "de", "fr", "es"} <= langs


def test_pack_json_is_formatted_as_committed() -> None:
    """Packs are edited by hand: keep them valid, indented JSON ending in a newline."""
    for path in sorted(Path(PACKS_DIR).glob("*.json")):
        raw = path.read_text(encoding="utf-8")
        assert raw == json.dumps(json.loads(raw), indent=2, ensure_ascii=False) + "\n", path.name
