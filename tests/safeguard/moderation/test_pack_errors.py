"""A broken rule pack fails at load with a message naming the file, the rule and the field."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flashfusion.safeguard.moderation.engine import ModerationEngine
from flashfusion.safeguard.moderation.pack import PackError, load_pack, load_packs, parse_pack
from flashfusion.safeguard.types import ScreenSubject, TextField


def good_rule(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "shop.gnomes",
        "category": "policy",
        "kind": "gnomes",
        "title": "Garden gnomes",
        "verdict": "warn",
        "patterns": [{"lang": "en", "phrases": ["gnome"]}],
        "exceptions": ["gnome alone"],
        "message": "\u201c{matched}\u201d is a gnome.",
        "source": None,
        "label": "FlashFusion rule",
        "examples": {"hit": ["Garden gnomes"], "miss": ["Gnome alone"]},
    }
    rule.update(changes)
    return rule


def pack_json(*rules: dict[str, Any], **changes: Any) -> str:
    pack: dict[str, Any] = {
        "id": "shop",
        "version": "1.2.3",
        "updated": "2026-12-01",
        "title": "A test pack",
        "source": "https://example.com/policy",
        "rules": list(rules) or [good_rule()],
    }
    pack.update(changes)
    return json.dumps(pack)


def error_of(raw: str, name: str = "shop.json") -> str:
    with pytest.raises(PackError) as caught:
        parse_pack(raw, name)
    return str(caught.value)


def test_a_valid_pack_parses_and_its_rule_runs(tmp_path: Path) -> None:
    (tmp_path / "shop.json").write_text(pack_json(), encoding="utf-8")
    engine = ModerationEngine.from_directory(tmp_path)
    assert engine.pack_versions() == {"shop": "1.2.3"}
    findings = engine.check(
        ScreenSubject(fields=(TextField("title", "Two gnomes, gnome alone"),)), packs=["shop"]
    )
    assert [(f.code, f.span.text if f.span else None) for f in findings] == [
        ("policy.gnomes", "gnomes")
    ]
    assert findings[0].evidence["label"] == "FlashFusion rule"


def test_invalid_json_names_the_line_and_column() -> None:
    assert error_of('{"id": "shop",\n  "version": }') == (
        "shop.json: not valid JSON at line 2, column 14: Expecting value"
    )


def test_a_regex_that_does_not_compile_names_the_rule_and_field() -> None:
    broken = good_rule(id="shop.broken", patterns=[{"regex": "(unclosed"}])
    message = error_of(pack_json(good_rule(), broken))
    assert message.startswith("shop.json: rule 'shop.broken', field patterns.0: ")
    assert "regex '(unclosed' does not compile: missing ), unterminated subpattern" in message
    assert message.endswith("Fix the pack file and reload.")


def test_a_rule_without_a_source_must_be_labelled_flashfusion() -> None:
    message = error_of(pack_json(good_rule(label=None)))
    assert message.startswith("shop.json: rule 'shop.gnomes', field (the rule): ")
    assert (
        "a rule without a source is FlashFusion's own: set label to 'FlashFusion rule'" in message
    )


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"verdict": "pass"}, "verdict", "Input should be 'warn' or 'block'"),
        ({"category": "trademark"}, "category", "Input should be 'policy', 'ip' or 'claims'"),
        ({"source": "etsy.com/legal"}, "source", "String should match pattern"),
        ({"examples": {"hit": ["gnome"], "miss": []}}, "examples.miss", "at least 1 item"),
        ({"patterns": [{"phrases": ["gnome"], "regex": "gnome"}]}, "patterns.0", "not both"),
        (
            {"patterns": [{"phrases": ["!!!"]}]},
            "patterns.0",
            "phrase '!!!' has no letters or digits",
        ),
        ({"exceptions": [{"regex": "[z-a]"}]}, "exceptions.0", "does not compile"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        (
            {"platforms": {"etsy": {"verdict": "block"}}},
            "platforms.etsy.source",
            "Field required",
        ),
    ],
)
def test_field_errors_name_the_rule_and_field(
    changes: dict[str, Any], field: str, text: str
) -> None:
    message = error_of(pack_json(good_rule(**changes)))
    assert re.match(rf"shop\.json: rule 'shop\.gnomes', field {re.escape(field)}: ", message), (
        message
    )
    assert text in message


def test_a_rule_without_an_id_is_named_by_position() -> None:
    rule = good_rule()
    del rule["id"]
    message = error_of(pack_json(good_rule(id="shop.first"), rule))
    assert message.startswith("shop.json: rule #2 (no id), field id: Field required")


def test_duplicate_rule_ids_and_a_wrong_pack_id_are_errors() -> None:
    assert "rule id 'shop.gnomes' is used twice" in error_of(pack_json(good_rule(), good_rule()))
    assert error_of(pack_json(), "other.json") == (
        "other.json: pack id 'shop' must match the file name ('other')."
    )
    assert "field version: String should match pattern" in error_of(pack_json(version="v1"))


def test_unreadable_and_empty_pack_directories(tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"^missing\.json: cannot be read \(No such file"):
        load_pack(tmp_path / "missing.json")
    with pytest.raises(PackError, match=r"no rule packs \(\*\.json\) found\.$"):
        load_packs(tmp_path)


def test_the_engine_fails_loudly_on_a_broken_pack(tmp_path: Path) -> None:
    (tmp_path / "shop.json").write_text(pack_json(good_rule(verdict="maybe")), encoding="utf-8")
    with pytest.raises(PackError, match=r"^shop\.json: rule 'shop\.gnomes', field verdict: "):
        ModerationEngine.from_directory(tmp_path)
