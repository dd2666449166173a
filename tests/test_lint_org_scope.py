"""STYLE.md §4: tenancy is enforced in one place.

Code outside `flashfusion/authz/` and `flashfusion/member/repository.py` must not build a
membership filter by hand: no comparison on a `Member` column, no `Member.<column>.in_(...)`, no
`.where(...)`/`.filter(...)`/`.join(...)` over `Member`, no raw SQL reading the `members` table.
Services get organization ids from `authz.get_accessible_org_ids()` and repositories filter by
those. Constructing a `Member(...)` row, type annotations and comparisons on a loaded member
instance (`member.user_id`) are fine.
"""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import flashfusion

PACKAGE = Path(flashfusion.__file__).parent
ROOT = PACKAGE.parent
# The only places that may turn a subject into organization ids.
ALLOWED = ("flashfusion/authz/", "flashfusion/member/repository.py")

MODEL_MODULES = ("flashfusion.models", "flashfusion.models.member")
QUERY_METHODS = {
    "where",
    "filter",
    "filter_by",
    "having",
    "join",
    "outerjoin",
    "join_from",
    "outerjoin_from",
}
COLUMN_OPERATORS = {
    "in_",
    "not_in",
    "notin_",
    "is_",
    "is_not",
    "isnot",
    "is_distinct_from",
    "isnot_distinct_from",
    "contains",
    "startswith",
    "endswith",
    "like",
    "ilike",
    "between",
    "any_",
    "all_",
    "op",
    "__eq__",
    "__ne__",
}
RAW_MEMBERSHIP_SQL = re.compile(r"\b(from|join|update|into)\s+\"?members\"?\b", re.IGNORECASE)


@dataclass
class MembershipFilterFinder(ast.NodeVisitor):
    path: str
    # Names bound to the Member model, and to modules that export it.
    model_names: set[str] = field(default_factory=set)
    module_names: set[str] = field(default_factory=set)
    findings: dict[int, str] = field(default_factory=dict)

    # -- what refers to the model

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in MODEL_MODULES:
                # `import flashfusion.models` binds `flashfusion`; `as m` binds `m`.
                self.module_names.add(alias.asname or alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if node.module in MODEL_MODULES and alias.name == "Member":
                self.model_names.add(alias.asname or alias.name)
            if f"{node.module}.{alias.name}" in MODEL_MODULES:
                self.module_names.add(alias.asname or alias.name)
        self.generic_visit(node)

    def is_model(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.model_names
        if isinstance(node, ast.Attribute) and node.attr == "Member":
            return ast.unparse(node.value) in self.module_names
        return False

    def is_column(self, node: ast.AST) -> bool:
        """`Member.user_id`, or `Member.__table__.c.user_id`."""
        if not isinstance(node, ast.Attribute):
            return False
        if self.is_model(node.value):
            return node.attr not in ("__table__",)
        inner = node.value
        return (
            isinstance(inner, ast.Attribute)
            and inner.attr in ("c", "columns")
            and isinstance(inner.value, ast.Attribute)
            and inner.value.attr == "__table__"
            and self.is_model(inner.value.value)
        )

    def mentions_model(self, node: ast.AST) -> bool:
        return any(self.is_model(child) for child in ast.walk(node))

    # -- what counts as building a filter

    def report(self, node: ast.AST, message: str) -> None:
        self.findings.setdefault(getattr(node, "lineno", 0), message)

    def visit_Compare(self, node: ast.Compare) -> None:
        for operand in (node.left, *node.comparators):
            if self.is_column(operand):
                self.report(node, f"compares {ast.unparse(operand)}")
                break
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in COLUMN_OPERATORS and self.is_column(func.value):
                self.report(node, f"filters with {ast.unparse(func)}(...)")
            elif func.attr in QUERY_METHODS and self.mentions_model(node):
                self.report(node, f".{func.attr}(...) over Member")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and RAW_MEMBERSHIP_SQL.search(node.value):
            self.report(node, "raw SQL over the members table")


def is_allowed(path: str) -> bool:
    return any(path == a or (a.endswith("/") and path.startswith(a)) for a in ALLOWED)


def lint_source(source: str, path: str, *, honour_allowlist: bool = True) -> list[str]:
    """`path:line: message` for every hand-built membership filter in `source`."""
    if honour_allowlist and is_allowed(path):
        return []
    finder = MembershipFilterFinder(path)
    finder.visit(ast.parse(source, filename=path))
    return [f"{path}:{line}: {message}" for line, message in sorted(finder.findings.items())]


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_hand_written_membership_filters() -> None:
    files = package_files()
    assert len(files) > 50, "the lint found too few files: is it walking the package?"
    findings = [
        finding
        for file in files
        for finding in lint_source(file.read_text(), file.relative_to(ROOT).as_posix())
    ]
    assert not findings, (
        "Membership filters built by hand (STYLE.md §4): get organization ids from "
        "authz.get_accessible_org_ids() and filter with them, or add a MemberRepository "
        "method.\n" + "\n".join(findings)
    )


def test_the_allowlisted_repository_really_filters_on_membership() -> None:
    """The one allowed place is caught when the allowlist is ignored: the lint's patterns
    match the real code, not just the snippets below."""
    path = "flashfusion/member/repository.py"
    findings = lint_source((ROOT / path).read_text(), path, honour_allowlist=False)
    assert any("compares Member.organization_id" in f for f in findings), findings
    assert any("compares Member.user_id" in f for f in findings), findings
    assert any("filters with Member.organization_id.in_(...)" in f for f in findings), findings


VIOLATIONS = """\
import uuid
from sqlalchemy import select, text
from flashfusion.models import Member
from flashfusion.models import Member as M
from flashfusion import models
import flashfusion.models as m


async def accessible(session, user_id, organization_id):
    a = select(Member.organization_id).where(Member.id == user_id)
    b = Member.organization_id.in_([organization_id])
    c = select(M).filter_by(user_id=user_id)
    d = models.Member.user_id != user_id
    e = select(m.Member.role)
    f = text("SELECT organization_id FROM members WHERE user_id = :u")
    g = Member.__table__.c.user_id == user_id
    h = select(models.APIKey).join(m.Member, m.Member.id == models.APIKey.id)
    i = user_id == M.user_id
    return a, b, c, d, e, f, g, h, i
"""

CLEAN = """\
from flashfusion.models import APIKey, Member, Role


def build(member: Member, key: APIKey, organization_id, user_id) -> Member:
    new = Member(organization_id=organization_id, user_id=user_id, role=Role.viewer)
    same_creator = key.created_by_user_id == member.user_id
    is_owner = member.role == Role.owner
    label = "members can be invited from the members page"
    return new if same_creator and is_owner and label else member
"""


def test_lint_catches_hand_written_filters() -> None:
    findings = lint_source(VIOLATIONS, "flashfusion/product/service.py")
    # Every statement that filters on membership, by file and line; `e` only selects a column.
    assert findings == [
        "flashfusion/product/service.py:10: .where(...) over Member",
        "flashfusion/product/service.py:11: filters with Member.organization_id.in_(...)",
        "flashfusion/product/service.py:12: .filter_by(...) over Member",
        "flashfusion/product/service.py:13: compares models.Member.user_id",
        "flashfusion/product/service.py:15: raw SQL over the members table",
        "flashfusion/product/service.py:16: compares Member.__table__.c.user_id",
        "flashfusion/product/service.py:17: .join(...) over Member",
        "flashfusion/product/service.py:18: compares M.user_id",
    ]


def test_lint_accepts_constructors_and_instances() -> None:
    assert lint_source(CLEAN, "flashfusion/product/service.py") == []


def test_lint_honours_the_allowlist_exactly() -> None:
    assert lint_source(VIOLATIONS, "flashfusion/authz/service.py") == []
    assert lint_source(VIOLATIONS, "flashfusion/member/repository.py") == []
    assert lint_source(VIOLATIONS, "flashfusion/member/service.py") != []
    assert lint_source(VIOLATIONS, "flashfusion/authzzz/service.py") != []
