"""The labelled trademark evaluation set (eval_cases.json) against the bundled starter set: the
issue's targets, recall >= 0.95 on live marks in the relevant class (exact and variants) and a
false-positive rate <= 5 % on benign phrases. benchmarks/safeguard_eval.py prints the details."""

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from flashfusion.catalog.registry import get_catalog, resolve_key
from flashfusion.safeguard.trademark.normalize import mark_keys
from flashfusion.safeguard.trademark.starter import get_starter_index

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "safeguard_eval.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("safeguard_eval", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["safeguard_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_the_set_is_large_labelled_and_built_from_starter_marks(bench: ModuleType) -> None:
    cases = bench.load_cases()
    assert len(cases) >= 300
    counts = Counter(c["category"] for c in cases)
    assert set(counts) == set(bench.CATEGORIES)
    assert min(counts.values()) >= 25
    assert len({c["id"] for c in cases}) == len(cases)
    starter = {mark_keys(r.mark_text).normalized: r for r in get_starter_index().records}
    catalog = get_catalog()
    for c in cases:
        resolve_key(catalog, c["product_type"])  # every product type is a catalog type
        expected = "clear" if c["category"] in ("wrong_class", "dead", "benign") else "flag"
        assert c["expected"] == expected, c["id"]
        if c["category"] == "benign":
            assert c["mark"] is None, c["id"]
            continue
        record = starter.get(mark_keys(c["mark"]).normalized)
        assert record is not None, f"{c['id']}: {c['mark']} is not in the starter set"
        if c["category"] == "dead":
            assert record.status.value == "dead", c["id"]


def test_targets(bench: ModuleType) -> None:
    report = bench.evaluate(bench.load_cases())
    misses = [(o.case["id"], o.case["text"]) for o in report.misses]
    assert report.relevant_recall >= bench.RECALL_TARGET, misses
    assert report.benign_fp_rate <= bench.BENIGN_FP_TARGET, misses
    for category in ("wrong_class", "dead"):
        score = report.by_category[category]
        assert score.fp <= 0.05 * score.cases, (category, misses)
    assert report.by_category["phonetic"].recall >= 0.8, misses


def test_benchmark_script_prints_the_figures(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "recall on live marks in the relevant class: " in out
    assert "false-positive rate on benign phrases: " in out
    assert "time per case: mean" in out
    for category in bench.CATEGORIES:
        assert f"\n{category} " in out
