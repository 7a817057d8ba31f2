"""The three-colour (三色) engine: rules as data → green / yellow / red, with reasons and a patrol
interval, for any registry object that has a ``colour_kind``.

Condition language (``ColourRule.condition``, JSON; validated by ``validate_condition``)::

    {"all": [c, …]}   {"any": [c, …]}   {"not": c}
    {"field": "use", "op": "eq", "value": "rented"}
        ops: eq ne gt ge lt le in contains empty not_empty
    {"open_cases": {"op": "ge", "value": 2}}            cases about the object not yet closed
    {"recent_findings": {"days": 14, "op": "ge", "value": 1}}
        patrol findings (record_patrol) and, for enterprises, visit problems in the last d days
    {"flag": "三合一场所"}                                the flag is in the object's ``flags``
    {"group_rental": true}                              Shanghai's group-rental rule (group_rental.py)
    {"always": true}                                    the fallback rule

Every matching rule gives a reason; the worst colour among them wins (green < yellow < red) and
its patrol interval comes from the rule set. Reason templates fill ``{open_cases}``,
``{recent_findings}``, ``{days}``, ``{group_rental}``, ``{flag}``, ``{flags}`` and the object's
own (non-personal) fields, e.g. ``{name}``.

Writes: ``recompute`` (one object, inside the caller's transaction), ``recompute_many`` (bulk:
reads in chunks, evaluates in memory, writes only the states that changed), ``record_patrol``,
``override`` / ``clear_override``, ``sweep`` (time-driven changes: overrides expiring, findings
ageing out). Reads: ``current``, ``evaluate``.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Count
from django.utils import timezone

from towngrid.core import audit

from . import group_rental
from .colour_models import (
    COLOUR_RANK,
    DEFAULT_INTERVALS,
    Colour,
    ColourCause,
    ColourChange,
    ColourOverride,
    ColourRule,
    ColourRuleSet,
    ColourState,
)
from .errors import CodeError

COLOURS = [c.value for c in Colour]
COLOUR_LABELS = {c.value: str(c.label) for c in Colour}
OPS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "contains", "empty", "not_empty")
COUNT_OPS = ("eq", "ne", "gt", "ge", "lt", "le")
OP_LABELS = {"eq": "=", "ne": "≠", "gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
FINDINGS_KEPT_DAYS = 366
FINDINGS_KEPT = 100
MAX_OVERRIDE_DAYS = 366
MAX_REASON = 500
NO_RULE_REASON = "未命中任何规则"


class ColourError(CodeError):
    """A refused colour action (bad condition, override without reason, …)."""


# --- conditions ----------------------------------------------------------------------------------


def _fail(path: str, message: str) -> None:
    raise ColourError("invalid", f"条件有误（{path}）：{message}", details={"path": path})


def _check_count(spec: Any, path: str, *, days: bool = False) -> None:
    if isinstance(spec, bool) or not isinstance(spec, (int, dict)):
        _fail(path, "应为数字或 {op, value}。")
    if isinstance(spec, int):
        if spec < 0:
            _fail(path, "数量不能为负。")
        if days:
            _fail(path, "须写明天数 days。")
        return
    allowed = {"op", "value", "days"} if days else {"op", "value"}
    extra = set(spec) - allowed
    if extra:
        _fail(path, f"未知的键 {', '.join(sorted(extra))}。")
    if spec.get("op", "ge") not in COUNT_OPS:
        _fail(path, f"未知的比较符 {spec.get('op')}，可用：{' '.join(COUNT_OPS)}。")
    value = spec.get("value", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail(path, "value 应为非负整数。")
    if days:
        d = spec.get("days")
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 366:
            _fail(path, "days 应为 1–366 的整数天数。")


def validate_condition(cond: Any, path: str = "condition", *, depth: int = 0) -> None:
    """Raise ``ColourError("invalid")`` with a Chinese message naming the bad part."""
    if depth > 8:
        _fail(path, "嵌套层数过多。")
    if not isinstance(cond, dict) or len(cond) == 0:
        _fail(path, "条件应为非空的 JSON 对象。")
    if "field" in cond:
        extra = set(cond) - {"field", "op", "value"}
        if extra:
            _fail(path, f"未知的键 {', '.join(sorted(extra))}。")
        name = cond["field"]
        if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            _fail(path, "field 应为对象的字段名。")
        if name.startswith("_") or name.endswith(("_enc", "_hash")):
            _fail(path, f"不能按字段 {name} 判断。")
        op = cond.get("op", "eq")
        if op not in OPS:
            _fail(path, f"未知的比较符 {op}，可用：{' '.join(OPS)}。")
        if op in {"in"} and not isinstance(cond.get("value"), list):
            _fail(path, "in 的 value 应为列表。")
        if op not in {"empty", "not_empty"} and "value" not in cond:
            _fail(path, "缺少 value。")
        return
    if len(cond) != 1:
        _fail(path, "每个条件只能有一个键（组合请用 all / any）。")
    key, spec = next(iter(cond.items()))
    if key in {"all", "any"}:
        if not isinstance(spec, list) or not spec:
            _fail(path, f"{key} 应为非空的条件列表。")
        for i, sub in enumerate(spec):
            validate_condition(sub, f"{path}.{key}[{i}]", depth=depth + 1)
    elif key == "not":
        validate_condition(spec, f"{path}.not", depth=depth + 1)
    elif key == "open_cases":
        _check_count(spec, f"{path}.open_cases")
    elif key == "recent_findings":
        if not isinstance(spec, dict):
            _fail(f"{path}.recent_findings", "应为 {days, op, value}。")
        _check_count(spec, f"{path}.recent_findings", days=True)
    elif key == "flag":
        if not isinstance(spec, str) or not spec.strip():
            _fail(f"{path}.flag", "应为标记名称，如“三合一场所”。")
    elif key in {"group_rental", "always"}:
        if not isinstance(spec, bool):
            _fail(f"{path}.{key}", "应为 true 或 false。")
    else:
        _fail(path, f"未知的条件 {key}。")


def _walk(cond: dict) -> Iterable[dict]:
    yield cond
    for key in ("all", "any"):
        for sub in cond.get(key, ()) if isinstance(cond.get(key), list) else ():
            yield from _walk(sub)
    if isinstance(cond.get("not"), dict):
        yield from _walk(cond["not"])


def _count_spec(spec) -> tuple[str, int]:
    if isinstance(spec, int):
        return "ge", spec
    return spec.get("op", "ge"), int(spec.get("value", 1))


def _compare_count(actual: int, op: str, value: int) -> bool:
    return {
        "eq": actual == value,
        "ne": actual != value,
        "gt": actual > value,
        "ge": actual >= value,
        "lt": actual < value,
        "le": actual <= value,
    }[op]


def _coerce(actual: Any, value: Any) -> tuple[Any, Any]:
    """Compare numbers as numbers (Decimal fields against JSON numbers), everything else as is."""
    if (
        isinstance(actual, Decimal)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    ):
        try:
            return actual, Decimal(str(value))
        except InvalidOperation:
            return actual, value
    return actual, value


def _compare_field(actual: Any, op: str, value: Any) -> bool:
    if op == "empty":
        return actual is None or actual in ("", [], {})
    if op == "not_empty":
        return not _compare_field(actual, "empty", value)
    if op == "in":
        return actual in (value or [])
    if op == "contains":
        if actual is None:
            return False
        try:
            return value in actual
        except TypeError:
            return False
    actual, value = _coerce(actual, value)
    if op == "eq":
        return actual == value
    if op == "ne":
        return actual != value
    if actual is None or value is None:
        return False
    try:
        return {"gt": actual > value, "ge": actual >= value, "lt": actual < value,
                "le": actual <= value}[op]  # fmt: skip
    except TypeError:
        return False


# --- compiled rule sets (cached per process; cleared by saves and by the test suite) ----------


@dataclass(frozen=True)
class CompiledRule:
    id: int
    order: int
    colour: str
    name: str
    condition: dict
    reason: str
    test: Callable = field(repr=False, compare=False, default=None)
    placeholders: bool = True


@dataclass(frozen=True)
class CompiledRuleSet:
    id: int
    kind: str
    name: str
    intervals: dict[str, int]
    rules: tuple[CompiledRule, ...]
    fields: frozenset[str]  # object fields the rules read
    windows: tuple[int, ...]  # the day windows of recent_findings conditions
    uses_group_rental: bool

    def interval(self, colour: str) -> int:
        return self.intervals.get(colour, DEFAULT_INTERVALS[colour])


def compile_rule_set(rule_set: ColourRuleSet, rules: Iterable[ColourRule]) -> CompiledRuleSet:
    compiled = []
    fields: set[str] = set()
    windows: set[int] = set()
    uses_gr = False
    for rule in rules:
        if not rule.active:
            continue
        compiled.append(
            CompiledRule(
                rule.id,
                rule.order,
                rule.colour,
                rule.name,
                rule.condition,
                rule.reason,
                test=compile_condition(rule.condition or {"always": False}),
                placeholders="{" in (rule.reason or ""),
            )
        )
        for node in _walk(rule.condition or {}):
            if "field" in node:
                fields.add(node["field"])
            if "flag" in node:
                fields.add("flags")
            if "recent_findings" in node and isinstance(node["recent_findings"], dict):
                windows.add(int(node["recent_findings"].get("days", 30)))
            if node.get("group_rental"):
                uses_gr = True
        fields.update(re.findall(r"\{(\w+)\}", rule.reason or ""))
    return CompiledRuleSet(
        id=rule_set.id,
        kind=rule_set.colour_kind,
        name=rule_set.name,
        intervals={
            Colour.GREEN: rule_set.green_interval_days,
            Colour.YELLOW: rule_set.yellow_interval_days,
            Colour.RED: rule_set.red_interval_days,
        },
        rules=tuple(sorted(compiled, key=lambda r: (r.order, r.id))),
        fields=frozenset(fields),
        windows=tuple(sorted(windows)),
        uses_group_rental=uses_gr,
    )


_CACHE_TTL = 5.0
_cache: dict[str, tuple[float, CompiledRuleSet | None]] = {}
_cache_lock = threading.Lock()


def clear_rule_cache(**_: Any) -> None:
    with _cache_lock:
        _cache.clear()


def rule_set_for(kind: str) -> CompiledRuleSet | None:
    """The active rule set of a colour kind, compiled (None: the kind has no colours)."""
    now = time.monotonic()
    hit = _cache.get(kind)
    if hit is not None and now - hit[0] < _CACHE_TTL:
        return hit[1]
    rule_set = ColourRuleSet.objects.filter(colour_kind=kind, active=True).first()
    compiled = compile_rule_set(rule_set, rule_set.rules.all()) if rule_set is not None else None
    with _cache_lock:
        _cache[kind] = (now, compiled)
    return compiled


def _register_cache() -> None:
    from django.db.models.signals import post_delete, post_save

    from towngrid.core.config import register_cache_clearer

    register_cache_clearer(clear_rule_cache)
    for model in (ColourRuleSet, ColourRule):
        post_save.connect(clear_rule_cache, sender=model, dispatch_uid=f"colours.{model.__name__}")
        post_delete.connect(
            clear_rule_cache, sender=model, dispatch_uid=f"colours.{model.__name__}.del"
        )


_register_cache()


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    at: datetime
    text: str


@dataclass
class Facts:
    """What the rules read besides the object's own fields."""

    open_cases: int = 0
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Evaluation:
    colour: str
    reasons: list[dict]
    interval_days: int
    review_at: datetime | None = None  # when a finding ages out of a window (colour may change)


def _kind(obj) -> str:
    from .objects import kind_of

    return kind_of(obj)


class _Context:
    """One evaluation of one object: lazily computed facts shared by all its rules."""

    __slots__ = ("obj", "facts", "now", "_gr")

    def __init__(self, obj, facts: Facts, now: datetime):
        self.obj = obj
        self.facts = facts
        self.now = now
        self._gr = None

    def group_rental(self) -> list:
        if self._gr is None:
            self._gr = group_rental.assess(self.obj)
        return self._gr

    def findings_within(self, days: int) -> list[Finding]:
        since = self.now - timedelta(days=days)
        return [f for f in self.facts.findings if since < f.at <= self.now]


Test = Callable[["_Context", dict], bool]


def compile_condition(cond: dict) -> Test:
    """``cond`` as a closure ``test(ctx, bind) -> bool``: the tree is walked once per rule set,
    not once per object (recompute_many evaluates 100,000 objects with it). What made a test
    hold goes into ``bind`` for the reason template."""
    if "field" in cond:
        name, op, value = cond["field"], cond.get("op", "eq"), cond.get("value")
        if op == "eq" and isinstance(value, (bool, str)):
            return lambda ctx, bind: getattr(ctx.obj, name, None) == value
        return lambda ctx, bind: _compare_field(getattr(ctx.obj, name, None), op, value)
    key, spec = next(iter(cond.items()))
    if key in {"all", "any"}:
        subs = [compile_condition(sub) for sub in spec]
        if key == "all":
            return lambda ctx, bind: all(t(ctx, bind) for t in subs)
        return lambda ctx, bind: any(t(ctx, bind) for t in subs)
    if key == "not":
        sub = compile_condition(spec)
        return lambda ctx, bind: not sub(ctx, {})
    if key == "open_cases":
        op, value = _count_spec(spec)

        def open_cases(ctx, bind) -> bool:
            bind["open_cases"] = ctx.facts.open_cases
            return _compare_count(ctx.facts.open_cases, op, value)

        return open_cases
    if key == "recent_findings":
        op, value = _count_spec(spec)
        days = int(spec.get("days", 30))

        def recent(ctx, bind) -> bool:
            found = ctx.findings_within(days) if ctx.facts.findings else []
            ok = _compare_count(len(found), op, value)
            if ok:
                bind["recent_findings"] = len(found)
                bind["days"] = days
                bind["findings"] = "；".join(f.text for f in found[-3:] if f.text)
            return ok

        return recent
    if key == "flag":

        def flag(ctx, bind) -> bool:
            ok = spec in (getattr(ctx.obj, "flags", None) or ())
            if ok:
                bind["flag"] = spec
            return ok

        return flag
    if key == "group_rental":

        def rental(ctx, bind) -> bool:
            found = ctx.group_rental()
            if found:
                bind["group_rental"] = group_rental.explain(found)
            return bool(found) == spec

        return rental
    if key == "always":
        return lambda ctx, bind: bool(spec)
    return lambda ctx, bind: False


def _display(obj, name: str) -> str | None:
    """An object's field for a reason template; None for anything that must not be shown."""
    if name.startswith("_") or name in getattr(obj, "personal_fields", ()):
        return None
    if name.endswith(("_enc", "_hash")):
        return None
    getter = getattr(obj, f"get_{name}_display", None)
    if callable(getter):
        return str(getter())
    try:
        value = getattr(obj, name)
    except Exception:  # noqa: BLE001 - a deferred or missing field is simply not shown
        return None
    if value is None or callable(value) or isinstance(value, models.Model):
        return None
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


def _render(template: str, obj, bind: dict) -> str:
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in bind:
            return str(bind[name])
        if name == "flags":
            return "、".join(getattr(obj, "flags", None) or []) or "无"
        shown = _display(obj, name)
        return match.group(0) if shown is None else shown

    return _PLACEHOLDER.sub(fill, template or "")


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def evaluate_with(obj, rule_set: CompiledRuleSet, facts: Facts, now: datetime) -> Evaluation:
    """The pure core: the colour the rules give ``obj`` with these facts at ``now``."""
    ctx = _Context(obj, facts, now)
    matched: list[tuple[int, CompiledRule, str]] = []
    for rule in rule_set.rules:
        bind: dict = {}
        if rule.test(ctx, bind):
            if rule.placeholders:
                bind.setdefault("open_cases", facts.open_cases)
                text = _render(rule.reason, obj, bind)
            else:
                text = rule.reason
            matched.append((COLOUR_RANK[rule.colour], rule, text))
    if matched:
        worst = max(rank for rank, _, _ in matched)
        colour = next(r.colour for rank, r, _ in matched if rank == worst)
        # The reasons of the deciding colour first, then the milder ones for context.
        matched.sort(key=lambda m: (-m[0], m[1].order, m[1].id))
        reasons = [
            {"rule": r.id, "colour": r.colour, "text": text}
            for rank, r, text in matched
            if r.colour != Colour.GREEN or rank == worst
        ]
    else:
        colour, reasons = (
            Colour.GREEN.value,
            [{"rule": None, "colour": "green", "text": NO_RULE_REASON}],
        )
    review_at = None
    for days in rule_set.windows:
        for f in facts.findings:
            ends = f.at + timedelta(days=days)
            if ends > now and (review_at is None or ends < review_at):
                review_at = ends
    return Evaluation(str(colour), reasons, rule_set.interval(colour), review_at)


def evaluate(
    obj,
    *,
    now: datetime | None = None,
    facts: Facts | None = None,
    rule_set: CompiledRuleSet | None = None,
) -> tuple[str, list[dict], int]:
    """(colour, reasons, patrol interval in days) that the rules give ``obj``, no override.
    Facts not given are read from the database (open cases, recorded findings)."""
    now = now or timezone.now()
    rule_set = rule_set or rule_set_for(_kind(obj))
    if rule_set is None:
        raise ColourError("no_rules", f"对象类型 {_kind(obj)} 没有启用的三色规则。")
    if facts is None:
        facts = load_facts(obj, rule_set=rule_set, now=now)
    result = evaluate_with(obj, rule_set, facts, now)
    return result.colour, result.reasons, result.interval_days


# --- facts from the database ---------------------------------------------------------------------


def _parse_findings(rows: list | None) -> list[Finding]:
    found = []
    for row in rows or []:
        try:
            at = datetime.fromisoformat(row["at"])
        except (KeyError, TypeError, ValueError):
            continue
        found.append(Finding(at, str(row.get("text", ""))))
    return found


def _max_window(rule_set: CompiledRuleSet) -> int:
    return max(rule_set.windows, default=0)


def _visit_findings(ids: list[int] | tuple[int, int], since: datetime) -> dict[int, list[Finding]]:
    """Enterprise visits (大走访) that need follow-up, as findings per enterprise (a visit's
    problems are often service requests; only those left open for follow-up count as a risk).
    ``ids`` is a list of enterprise ids or an inclusive (first, last) id range."""
    from django.apps import apps

    try:
        visit = apps.get_model("registry", "EnterpriseVisit")
    except LookupError:
        return {}
    qs = visit.objects.filter(visited_at__gt=since, needs_followup=True)
    if isinstance(ids, tuple):
        qs = qs.filter(enterprise_id__gte=ids[0], enterprise_id__lte=ids[1])
    else:
        qs = qs.filter(enterprise_id__in=ids)
    found: dict[int, list[Finding]] = defaultdict(list)
    for eid, at, text, problems in qs.values_list(
        "enterprise_id", "visited_at", "findings", "problems"
    ):
        shown = "、".join(str(p) for p in problems) if problems else (text or "需跟进")
        found[eid].append(Finding(at, f"走访发现：{shown}"[:200]))
    return found


def load_facts(
    obj, *, rule_set: CompiledRuleSet, now: datetime, state: ColourState | None = None
) -> Facts:
    from towngrid.cases.models import OPEN_STATUSES, Case

    ct = ContentType.objects.get_for_model(obj)
    open_cases = Case.objects.filter(
        subject_type=ct, subject_id=obj.pk, status__in=OPEN_STATUSES
    ).count()
    if state is None:
        state = ColourState.objects.filter(content_type=ct, object_id=obj.pk).first()
    findings = _parse_findings(state.findings if state else [])
    window = _max_window(rule_set)
    if window and rule_set.kind == "enterprise":
        findings += _visit_findings([obj.pk], now - timedelta(days=window)).get(obj.pk, [])
    findings.sort(key=lambda f: f.at)
    return Facts(open_cases=open_cases, findings=findings)


def subject_of(case):
    """The registry object a case is about, or None."""
    if not case.subject_type_id or not case.subject_id:
        return None
    model = ContentType.objects.get_for_id(case.subject_type_id).model_class()
    if model is None or not getattr(model, "colour_kind", None):
        return None
    return model._default_manager.filter(pk=case.subject_id).first()


# --- writing states ------------------------------------------------------------------------------


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _actor_name(actor) -> str:
    user = _user(actor)
    if user is None:
        return "系统"
    return (getattr(user, "display_name", "") or user.get_username())[:150]


def _label(obj) -> str:
    from .objects import title_of

    return str(title_of(obj))[:200]


def _due(state: ColourState, interval: int) -> datetime:
    """The next patrol: the last one plus the colour's interval; never patrolled, counted from
    when the object first got a colour."""
    return (state.last_patrol_at or state.created_at) + timedelta(days=interval)


def _active_override(state: ColourState | None, now: datetime):
    """(override in force or None, override that has just expired or None)."""
    if state is None or state.override_id is None:
        return None, None
    ov = state.override
    if ov.ended_at is not None:
        return None, None
    if ov.expires_at <= now:
        return None, ov
    return ov, None


def _override_reason(ov: ColourOverride) -> dict:
    local = timezone.localtime(ov.expires_at)
    return {
        "rule": None,
        "colour": ov.colour,
        "override": ov.id,
        "text": f"人工调整为{COLOUR_LABELS[ov.colour]}：{ov.reason}（至 {local:%Y-%m-%d %H:%M}）",
    }


TRACKED = (
    "colour",
    "rule_colour",
    "reasons",
    "interval_days",
    "patrol_due_at",
    "review_at",
    "override_id",
    "label",
    "grid_code",
    "colour_kind",
)


def _apply(
    state: ColourState,
    ev: Evaluation,
    *,
    obj,
    kind: str,
    rule_set: CompiledRuleSet,
    now: datetime,
    override: ColourOverride | None,
) -> tuple[str, str]:
    """Set the state's fields from an evaluation (and the override in force); returns
    (old colour, new colour). Does not save."""
    old = state.colour or ""
    colour = override.colour if override is not None else ev.colour
    interval = rule_set.interval(colour)
    state.colour = colour
    state.rule_colour = ev.colour
    state.reasons = ev.reasons
    state.interval_days = interval
    state.patrol_due_at = _due(state, interval)
    review = ev.review_at
    if override is not None and (review is None or override.expires_at < review):
        review = override.expires_at
    state.review_at = review
    state.override = override
    state.label = _label(obj)
    state.grid_code = getattr(obj, "grid_code", "") or ""
    state.colour_kind = kind
    if colour != old:
        state.since = now
    return old, colour


def _snapshot(state: ColourState) -> tuple:
    return tuple(getattr(state, name) for name in TRACKED)


def _digest(state) -> str:
    """A hash of what the engine computes for a state (TRACKED); equal digests mean nothing to
    write. Datetimes as timestamps, so the same instant in any time zone hashes the same."""
    parts = []
    for name in TRACKED:
        value = getattr(state, name)
        if isinstance(value, datetime):
            value = value.timestamp()
        parts.append(value)
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _change_reasons(state: ColourState, cause: str) -> list[dict]:
    if state.override is not None and cause == ColourCause.OVERRIDE:
        return [_override_reason(state.override)]
    return state.reasons


def recompute(
    obj,
    *,
    cause: str = ColourCause.RULE,
    actor=None,
    at: datetime | None = None,
    _mutate: Callable[[ColourState], None] | None = None,
) -> ColourState | None:
    """Evaluate ``obj`` now and write its state (and a history row when its colour changes),
    inside the caller's transaction. None when its kind has no active rule set."""
    kind = _kind(obj)
    rule_set = rule_set_for(kind)
    if rule_set is None or obj.pk is None:
        return None
    now = at or timezone.now()
    ct = ContentType.objects.get_for_model(obj)
    with transaction.atomic():
        state = (
            ColourState.objects.select_for_update(of=("self",))
            .select_related("override")
            .filter(content_type=ct, object_id=obj.pk)
            .first()
        )
        created = state is None
        if created:
            state = ColourState(
                content_type=ct, object_id=obj.pk, computed_at=now, since=now, created_at=now
            )
        before = None if created else _snapshot(state)
        if _mutate is not None:
            _mutate(state)
        override, expired = _active_override(state, now)
        if expired is not None:
            expired.ended_at = expired.expires_at
            expired.ended_cause = ColourCause.EXPIRY
            expired.save(update_fields=["ended_at", "ended_cause"])
            cause = ColourCause.EXPIRY
        facts = load_facts(obj, rule_set=rule_set, now=now, state=state)
        ev = evaluate_with(obj, rule_set, facts, now)
        old, new = _apply(
            state, ev, obj=obj, kind=kind, rule_set=rule_set, now=now, override=override
        )
        if created or _mutate is not None or _snapshot(state) != before:
            state.computed_at = now
            state.digest = _digest(state)
            if created:
                try:
                    with transaction.atomic():
                        state.save(force_insert=True)
                except IntegrityError:
                    # Another transaction gave the object its first colour at the same moment:
                    # start again from its row (now there to lock).
                    return recompute(obj, cause=cause, actor=actor, at=at, _mutate=_mutate)
            else:
                state.save()
        if old != new:
            ColourChange.objects.create(
                content_type=ct,
                object_id=obj.pk,
                grid_code=state.grid_code,
                from_colour=old,
                to_colour=new,
                reasons=_change_reasons(state, cause),
                at=now,
                cause=cause,
                actor=_user(actor),
                actor_name=_actor_name(actor),
            )
            audit.record(
                actor,
                "colours.change",
                obj,
                changes={"colour": [old or None, new]},
                reason=str(ColourCause(cause).label),
            )
    return state


def current(obj, *, at: datetime | None = None) -> ColourState | None:
    """The live colour state of ``obj``: an unexpired override applies; an expired one (or a
    finding that has aged out) is dealt with now, recorded in the history. Computes the state
    on first use. None when the kind has no colour rules."""
    now = at or timezone.now()
    ct = ContentType.objects.get_for_model(obj)
    state = (
        ColourState.objects.select_related("override")
        .filter(content_type=ct, object_id=obj.pk)
        .first()
    )
    if state is None or (state.review_at is not None and state.review_at <= now):
        return recompute(obj, at=now)
    return state


def history(obj, *, limit: int = 50) -> list[ColourChange]:
    ct = ContentType.objects.get_for_model(obj)
    return list(
        ColourChange.objects.filter(content_type=ct, object_id=obj.pk)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )


def is_patrol_overdue(state: ColourState, now: datetime | None = None) -> bool:
    return state.patrol_due_at < (now or timezone.now())


# --- bulk ----------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    evaluated: int = 0
    created: int = 0
    changed: int = 0  # states whose colour changed (history rows written besides new ones)
    updated: int = 0  # states written (colour, reasons, dates …)
    colours: dict[str, int] = field(default_factory=lambda: {c: 0 for c in COLOURS})

    def as_dict(self) -> dict:
        return {
            "evaluated": self.evaluated,
            "created": self.created,
            "changed": self.changed,
            "updated": self.updated,
            "colours": dict(self.colours),
        }


def _load_fields(model, rule_set: CompiledRuleSet) -> list[str]:
    """The fields recompute_many reads: those the rules, reasons, group-rental rule and labels
    use, and no others (personal and long text fields are left in the database)."""
    wanted = set(rule_set.fields) | {"grid_code", "name", "address"}
    if rule_set.uses_group_rental:
        wanted |= set(group_rental.FIELDS)
    for extra in ("road", "lane", "number", "building", "room", "full_address"):
        wanted.add(extra)
    names = {f.name for f in model._meta.concrete_fields}
    attnames = {f.attname: f.name for f in model._meta.concrete_fields}
    chosen = {attnames.get(n, n) for n in wanted if n in names or n in attnames}
    return sorted(chosen)


def _light_objects(qs: models.QuerySet, rule_set: CompiledRuleSet, batch_size: int):
    """The queryset's objects with only the fields the evaluation reads, built from
    ``values_list`` rows (the ORM's converters, so JSON, decimals and booleans are right)
    without the cost of ``Model.__init__``: a third of the time for 100,000 rows. A field not
    loaded is fetched on access like any deferred field."""
    from django.db.models.base import ModelState

    model = qs.model
    names = _load_fields(model, rule_set)
    attnames = ["pk_"] + [model._meta.get_field(n).attname for n in names]
    attnames[0] = model._meta.pk.attname
    db = qs.db
    for values in qs.order_by("pk").values_list("pk", *names).iterator(chunk_size=batch_size):
        obj = model.__new__(model)
        obj.__dict__.update(zip(attnames, values, strict=True))
        state = ModelState()
        state.adding = False
        state.db = db
        obj._state = state
        yield obj


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def recompute_many(
    objects: models.QuerySet | Iterable[models.Model],
    *,
    cause: str = ColourCause.RULE,
    actor=None,
    at: datetime | None = None,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Recompute the colours of many objects fast: per chunk of ``batch_size`` (in id order) one
    read of the objects' needed fields, one of their states, one of their open-case counts, an
    in-memory evaluation, then bulk writes of the states that changed only and of history rows
    for colours that changed. Agrees with ``recompute`` object by object. ``progress(n)`` is
    called after each chunk with the number of objects done in it. Returns the counts."""
    now = at or timezone.now()
    total = BulkResult()
    if isinstance(objects, models.QuerySet):
        groups = [(objects.model, objects)]
    else:
        by_model: dict[type, list] = defaultdict(list)
        for obj in objects:
            by_model[type(obj)].append(obj)
        groups = list(by_model.items())
    for model, items in groups:
        kind = getattr(model, "colour_kind", None)
        rule_set = rule_set_for(kind) if kind else None
        if rule_set is None:
            continue
        ct = ContentType.objects.get_for_model(model)
        if isinstance(items, models.QuerySet):
            stream = _chunks(_light_objects(items, rule_set, batch_size), batch_size)
        else:
            stream = _chunks(sorted(items, key=lambda o: o.pk), batch_size)
        for chunk in stream:
            _recompute_chunk(chunk, ct, kind, rule_set, now, cause, actor, total)
            if progress is not None:
                progress(len(chunk))
    if total.changed or total.created:
        audit.record(
            actor,
            "colours.recompute",
            None,
            object_type="codes.colourstate",
            changes=total.as_dict(),
            reason=str(ColourCause(cause).label),
        )
    return total.as_dict()


READ_COLUMNS = (
    "id",
    "object_id",
    "colour",
    "override_id",
    "created_at",
    "last_patrol_at",
    "findings",
    "digest",
)
STATE_COLUMNS = (
    "id",
    "object_id",
    "colour",
    "rule_colour",
    "reasons",
    "interval_days",
    "patrol_due_at",
    "review_at",
    "override_id",
    "label",
    "grid_code",
    "colour_kind",
    "since",
    "created_at",
    "computed_at",
    "last_patrol_at",
    "findings",
    "digest",
)
# Written by recompute_many: everything it computes (findings and patrol times it only reads).
WRITTEN = (
    "colour",
    "rule_colour",
    "reasons",
    "interval_days",
    "patrol_due_at",
    "review_at",
    "override_id",
    "label",
    "grid_code",
    "colour_kind",
    "computed_at",
    "digest",
)
WRITTEN_WITH_SINCE = (*WRITTEN, "since")


class _Row:
    """A ColourState as plain attributes: the bulk path reads rows with ``values_list`` and
    writes them with ``executemany``, skipping model instances (their construction and the
    ORM's per-value preparation cost more than the evaluation itself). ``_apply``,
    ``_snapshot`` and ``_due`` work on it as on a ColourState."""

    __slots__ = (*STATE_COLUMNS, "content_type_id", "_override")

    def __init__(self, values: tuple, content_type_id: int, columns=READ_COLUMNS):
        for name in STATE_COLUMNS:
            setattr(self, name, None)
        for name, value in zip(columns, values, strict=True):
            setattr(self, name, value)
        self.content_type_id = content_type_id
        self._override = None

    @property
    def override(self):
        return self._override

    @override.setter
    def override(self, value) -> None:
        self._override = value
        self.override_id = value.id if value is not None else None


def _new_row(ct_id: int, object_id: int, now: datetime) -> _Row:
    values = dict.fromkeys(STATE_COLUMNS)
    values.update(
        object_id=object_id,
        colour="",
        reasons=[],
        findings=[],
        since=now,
        created_at=now,
        computed_at=now,
    )
    return _Row(tuple(values[c] for c in STATE_COLUMNS), ct_id, STATE_COLUMNS)


_PLAIN_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _preparer(field, conn) -> Callable[[Any], Any]:
    """How one column's values go to the database, decided once per column (the ORM decides
    per value): plain values as they are, datetimes as the backend stores them, anything else
    (JSON) through the field's own preparation."""
    internal = field.get_internal_type()
    if internal in _PLAIN_TYPES:
        return lambda value: value
    if internal == "DateTimeField" and conn.vendor == "sqlite":
        # Django's SQLite format: naive UTC "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return lambda v: (
            None if v is None else v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        )
    if internal == "DateTimeField":
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, conn)


class _Writer:
    """``executemany`` INSERT / UPDATE for one model, statements and column preparers built
    once. (Multi-row VALUES statements were tried for PostgreSQL: slower, because Django's
    client-side parameter binding re-parses every placeholder of a big statement.)"""

    def __init__(self, model, columns: tuple[str, ...]):
        from django.db import DEFAULT_DB_ALIAS, connections

        # The real connection, not the thread-local proxy: read once, not once per value.
        self.connection = conn = connections[DEFAULT_DB_ALIAS]
        meta = model._meta
        fields = [meta.get_field(c) for c in columns]
        self.attnames = [f.attname for f in fields]
        self.preparers = [_preparer(f, conn) for f in fields]
        quote = conn.ops.quote_name
        self.table = quote(meta.db_table)
        self.columns = [quote(f.column) for f in fields]

    def _prep(self, obj) -> list:
        return [
            prep(getattr(obj, a)) for prep, a in zip(self.preparers, self.attnames, strict=True)
        ]

    def insert(self, objs: list) -> None:
        if not objs:
            return
        sql = (
            f"INSERT INTO {self.table} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join(['%s'] * len(self.columns))})"
        )
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, [self._prep(o) for o in objs])

    def update(self, objs: list) -> None:
        if not objs:
            return
        sets = ", ".join(f"{c} = %s" for c in self.columns)
        sql = f"UPDATE {self.table} SET {sets} WHERE id = %s"
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, [[*self._prep(o), o.id] for o in objs])


CHANGE_COLUMNS = (
    "content_type",
    "object_id",
    "grid_code",
    "from_colour",
    "to_colour",
    "reasons",
    "at",
    "cause",
    "actor",
    "actor_name",
)


def _recompute_chunk(chunk, ct, kind, rule_set, now, cause, actor, total: BulkResult) -> None:
    from towngrid.cases.models import OPEN_STATUSES, Case

    first, last = chunk[0].pk, chunk[-1].pk
    ids = {obj.pk for obj in chunk}
    # Range reads (the chunk is in id order): no parameter-count limits, index-friendly.
    states = {
        values[1]: _Row(values, ct.id)
        for values in ColourState.objects.filter(
            content_type=ct, object_id__gte=first, object_id__lte=last
        )
        .order_by()
        .values_list(*READ_COLUMNS)
        if values[1] in ids
    }
    override_ids = [row.override_id for row in states.values() if row.override_id]
    if override_ids:
        overrides = ColourOverride.objects.in_bulk(override_ids)
        for row in states.values():
            if row.override_id:
                row._override = overrides.get(row.override_id)
    open_counts = dict(
        Case.objects.filter(
            subject_type=ct,
            subject_id__gte=first,
            subject_id__lte=last,
            status__in=OPEN_STATUSES,
        )
        .values_list("subject_id")
        .annotate(n=Count("id"))
        .values_list("subject_id", "n")
    )
    visits: dict[int, list[Finding]] = {}
    window = _max_window(rule_set)
    if window and kind == "enterprise":
        visits = _visit_findings((first, last), now - timedelta(days=window))

    new_rows: list[_Row] = []
    dirty: list[_Row] = []
    recoloured: list[_Row] = []  # dirty rows whose colour changed: their "since" is written too
    changes: list[SimpleNamespace] = []  # history rows as plain attributes
    expired: list[ColourOverride] = []
    user, name = _user(actor), _actor_name(actor)
    for obj in chunk:
        row = states.get(obj.pk)
        created = row is None
        if created:
            row = _new_row(ct.id, obj.pk, now)
        override, ended = _active_override(row, now)
        this_cause = cause
        if ended is not None:
            expired.append(ended)
            this_cause = ColourCause.EXPIRY
        findings = _parse_findings(row.findings) if row.findings else []
        if obj.pk in visits:
            findings = sorted(findings + visits[obj.pk], key=lambda f: f.at)
        facts = Facts(open_cases=open_counts.get(obj.pk, 0), findings=findings)
        ev = evaluate_with(obj, rule_set, facts, now)
        old, new = _apply(
            row, ev, obj=obj, kind=kind, rule_set=rule_set, now=now, override=override
        )
        total.evaluated += 1
        total.colours[new] += 1
        digest = _digest(row)
        if created:
            row.digest = digest
            new_rows.append(row)
        elif digest != row.digest:
            row.computed_at = now
            row.digest = digest
            (recoloured if old != new else dirty).append(row)
        if old != new:
            if not created:
                total.changed += 1
            changes.append(
                SimpleNamespace(
                    content_type_id=ct.id,
                    object_id=obj.pk,
                    grid_code=row.grid_code,
                    from_colour=old,
                    to_colour=new,
                    reasons=row.reasons,
                    at=now,
                    cause=this_cause,
                    actor_id=user.pk if user else None,
                    actor_name=name,
                )
            )
    with transaction.atomic():
        for ov in expired:
            # Each override ended at its own expiry time, as the single path records it.
            ColourOverride.objects.filter(pk=ov.pk, ended_at=None).update(
                ended_at=ov.expires_at, ended_cause=ColourCause.EXPIRY
            )
        new_columns = ("content_type", "object_id", "findings", "last_patrol_at", "created_at")
        _Writer(ColourState, (*new_columns, *WRITTEN_WITH_SINCE)).insert(new_rows)
        _Writer(ColourState, WRITTEN).update(dirty)
        _Writer(ColourState, WRITTEN_WITH_SINCE).update(recoloured)
        _Writer(ColourChange, CHANGE_COLUMNS).insert(changes)
    total.created += len(new_rows)
    total.updated += len(dirty) + len(recoloured)


def sweep(*, at: datetime | None = None, progress: Callable[[int], None] | None = None) -> dict:
    """The time-driven changes: overrides that expired and findings that aged out of their
    window. Recomputes exactly the states whose ``review_at`` has come (a scheduler runs this
    every few minutes: ``towngrid colours expire-overrides``)."""
    now = at or timezone.now()
    result = {"evaluated": 0, "changed": 0}
    due = (
        ColourState.objects.filter(review_at__lte=now)
        .values_list("content_type_id", "object_id")
        .order_by("content_type_id", "object_id")
    )
    by_ct: dict[int, list[int]] = defaultdict(list)
    for ct_id, oid in due:
        by_ct[ct_id].append(oid)
    for ct_id, ids in by_ct.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:
            continue
        for part in _chunks(ids, 1000):
            counts = recompute_many(
                model._default_manager.filter(pk__in=part), at=now, progress=progress
            )
            result["evaluated"] += counts["evaluated"]
            result["changed"] += counts["changed"]
    return result


# --- actions: patrols and overrides --------------------------------------------------------------


def _check_actor(actor, obj, capability: str, label: str) -> None:
    from towngrid.accounts.access import has_capability, in_grid_scope

    if _user(actor) is None:
        return
    if not has_capability(actor, capability):
        raise ColourError("forbidden", f"您没有“{label}”的权限。")
    if not in_grid_scope(actor, getattr(obj, "grid_code", "") or ""):
        raise ColourError("forbidden", "该对象不在您的管辖范围内。")


def _require_rules(obj) -> CompiledRuleSet:
    rule_set = rule_set_for(_kind(obj))
    if rule_set is None:
        raise ColourError("no_rules", f"对象类型 {_kind(obj)} 没有启用的三色规则。")
    return rule_set


def record_patrol(
    obj,
    *,
    at: datetime | None = None,
    actor=None,
    findings: Iterable[str] | str = (),
) -> ColourState | None:
    """A patrol of ``obj`` took place at ``at``: moves its next due date and records what was
    found (texts), which feed the "recent findings" conditions; then recomputes (cause
    "patrol"). Called by the codes patrol check-in. None (nothing written) for a kind without
    colour rules: patrolling it is still fine, it just has no colour."""
    if rule_set_for(_kind(obj)) is None:
        return None
    now = timezone.now()
    at = at or now
    if at > now + timedelta(minutes=5):
        raise ColourError("invalid", "巡查时间不能晚于当前时间。")
    if isinstance(findings, str):
        findings = [findings]
    texts = [str(t).strip()[:200] for t in findings if str(t).strip()]
    who = _actor_name(actor)

    def mutate(state: ColourState) -> None:
        if state.last_patrol_at is None or at > state.last_patrol_at:
            state.last_patrol_at = at
        kept = [
            row
            for row in (state.findings or [])
            if row.get("at", "")
            >= (now - timedelta(days=FINDINGS_KEPT_DAYS)).astimezone(UTC).isoformat()
        ]
        stamp = at.astimezone(UTC).isoformat()
        kept += [{"at": stamp, "text": t, "by": who} for t in texts]
        kept.sort(key=lambda row: row["at"])
        state.findings = kept[-FINDINGS_KEPT:]

    with transaction.atomic():
        state = recompute(obj, cause=ColourCause.PATROL, actor=actor, at=now, _mutate=mutate)
        audit.record(
            actor,
            "colours.patrol",
            obj,
            changes={"patrolled_at": at.isoformat(), "findings": texts},
        )
    return state


def override(
    obj,
    colour: str,
    *,
    reason: str,
    expires_at: datetime,
    actor=None,
    at: datetime | None = None,
) -> ColourState:
    """人工调整: ``obj`` is ``colour`` until ``expires_at`` whatever the rules say, because of
    ``reason``. Replaces an override in force. Recorded in the history and the audit trail."""
    _check_actor(actor, obj, "colours.override", "人工调整三色等级")
    _require_rules(obj)
    now = at or timezone.now()
    if colour not in COLOURS:
        raise ColourError("invalid", "颜色应为 green、yellow 或 red。", details={"field": "colour"})
    reason = (reason or "").strip()
    if not reason:
        raise ColourError("reason_required", "人工调整必须填写原因。", details={"field": "reason"})
    if len(reason) > MAX_REASON:
        raise ColourError("invalid", f"原因不能超过 {MAX_REASON} 字。", details={"field": "reason"})
    if not isinstance(expires_at, datetime):
        raise ColourError("invalid", "请填写到期时间。", details={"field": "expires_at"})
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at)
    if expires_at <= now:
        raise ColourError("invalid", "到期时间必须晚于当前时间。", details={"field": "expires_at"})
    if expires_at > now + timedelta(days=MAX_OVERRIDE_DAYS):
        raise ColourError(
            "invalid",
            f"人工调整最长 {MAX_OVERRIDE_DAYS} 天，到期后须重新评定。",
            details={"field": "expires_at"},
        )
    ct = ContentType.objects.get_for_model(obj)
    with transaction.atomic():
        replaced = _end_override(ct, obj.pk, now, actor, "被新的人工调整替代")
        ov = ColourOverride.objects.create(
            content_type=ct,
            object_id=obj.pk,
            grid_code=getattr(obj, "grid_code", "") or "",
            colour=colour,
            reason=reason,
            expires_at=expires_at,
            created_at=now,
            created_by=_user(actor),
            created_by_name=_actor_name(actor),
        )

        def mutate(state: ColourState) -> None:
            state.override = ov

        state = recompute(obj, cause=ColourCause.OVERRIDE, actor=actor, at=now, _mutate=mutate)
        audit.record(
            actor,
            "colours.override",
            obj,
            changes={
                "colour": colour,
                "expires_at": expires_at.isoformat(),
                "replaced": replaced,
            },
            reason=reason,
        )
    return state


def _end_override(ct, object_id: int, now: datetime, actor, why: str) -> int | None:
    active = (
        ColourOverride.objects.select_for_update()
        .filter(content_type=ct, object_id=object_id, ended_at=None)
        .order_by("-created_at")
    )
    ended = None
    for ov in active:
        ov.ended_at = min(now, ov.expires_at)
        ov.ended_cause = ColourCause.CLEAR if ov.expires_at > now else ColourCause.EXPIRY
        ov.ended_by = _user(actor)
        ov.ended_reason = why
        ov.save(update_fields=["ended_at", "ended_cause", "ended_by", "ended_reason"])
        ended = ov.id
    return ended


def clear_override(obj, *, actor=None, reason: str = "", at: datetime | None = None):
    """撤销人工调整: the rules decide again from now. Refused when there is none in force."""
    _check_actor(actor, obj, "colours.override", "人工调整三色等级")
    _require_rules(obj)
    now = at or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ColourError(
            "reason_required", "撤销人工调整必须填写原因。", details={"field": "reason"}
        )
    ct = ContentType.objects.get_for_model(obj)
    with transaction.atomic():
        ended = _end_override(ct, obj.pk, now, actor, reason)
        if ended is None:
            raise ColourError("not_found", "该对象当前没有人工调整。")

        def mutate(state: ColourState) -> None:
            state.override = None

        state = recompute(obj, cause=ColourCause.CLEAR, actor=actor, at=now, _mutate=mutate)
        audit.record(
            actor, "colours.clear_override", obj, changes={"override": ended}, reason=reason
        )
    return state


# --- configuration: rule sets --------------------------------------------------------------------

MAX_RULES = 50


def known_kinds() -> dict[str, str]:
    """colour_kind → label of every coded registry model."""
    from .objects import KIND_LABELS, coded_models

    return {
        m.colour_kind: KIND_LABELS.get(m.colour_kind, m._meta.verbose_name) for m in coded_models()
    }


def _interval(data: dict, key: str, default: int) -> int:
    value = data.get(key, default)
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = -1
    if isinstance(value, bool) or not 1 <= days <= 365:
        raise ColourError("invalid", "巡查周期应为 1–365 天。", details={"field": key})
    return days


def _clean_rules(rows: Any) -> list[dict]:
    if not isinstance(rows, list) or not rows:
        raise ColourError("invalid", "规则集至少要有一条规则。", details={"field": "rules"})
    if len(rows) > MAX_RULES:
        raise ColourError("invalid", f"规则最多 {MAX_RULES} 条。", details={"field": "rules"})
    cleaned = []
    for i, row in enumerate(rows):
        where = {"field": "rules", "index": i}
        if not isinstance(row, dict):
            raise ColourError("invalid", f"第 {i + 1} 条规则格式有误。", details=where)
        if row.get("colour") not in COLOURS:
            raise ColourError(
                "invalid", f"第 {i + 1} 条规则的颜色应为 green、yellow 或 red。", details=where
            )
        name = str(row.get("name") or "").strip()
        reason = str(row.get("reason") or "").strip()
        if not name or len(name) > 80:
            raise ColourError("invalid", f"第 {i + 1} 条规则须有名称（80 字以内）。", details=where)
        if not reason or len(reason) > 200:
            raise ColourError(
                "invalid", f"第 {i + 1} 条规则须有原因说明（200 字以内）。", details=where
            )
        try:
            validate_condition(row.get("condition"), f"rules[{i}].condition")
        except ColourError as exc:
            raise ColourError(
                "invalid", f"第 {i + 1} 条规则：{exc.message}", details={**where, **exc.details}
            ) from None
        order = row.get("order", (i + 1) * 10)
        if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 32767:
            raise ColourError("invalid", f"第 {i + 1} 条规则的顺序应为整数。", details=where)
        cleaned.append(
            {
                "order": order,
                "colour": row["colour"],
                "name": name,
                "condition": row["condition"],
                "reason": reason,
                "active": bool(row.get("active", True)),
            }
        )
    return cleaned


def save_rule_set(rule_set: ColourRuleSet | None, data: dict, *, actor=None) -> ColourRuleSet:
    """Create (``rule_set`` None) or replace a rule set and its rules from plain data, all or
    nothing. The colours of the kind are not recomputed here (that can be 100,000 objects):
    callers start ``recompute_kind`` as a job, or run ``towngrid colours recompute``."""
    from towngrid.accounts.access import has_capability

    if _user(actor) is not None and not has_capability(actor, "colours.configure"):
        raise ColourError("forbidden", "您没有“配置三色规则”的权限。")
    if not isinstance(data, dict):
        raise ColourError("invalid", "请求格式有误。")
    kind = str(data.get("colour_kind") or (rule_set.colour_kind if rule_set else "")).strip()
    if kind not in known_kinds():
        raise ColourError(
            "invalid",
            f"未知的对象类型：{kind or '（空）'}，可用：{'、'.join(known_kinds())}。",
            details={"field": "colour_kind"},
        )
    name = str(data.get("name") or (rule_set.name if rule_set else "")).strip()
    if not name or len(name) > 80:
        raise ColourError("invalid", "请填写规则集名称（80 字以内）。", details={"field": "name"})
    base = rule_set or ColourRuleSet()
    values = {
        "colour_kind": kind,
        "name": name,
        "description": str(data.get("description", base.description or ""))[:2000],
        "active": bool(data.get("active", base.active if rule_set else True)),
        "green_interval_days": _interval(data, "green_interval_days", base.green_interval_days),
        "yellow_interval_days": _interval(data, "yellow_interval_days", base.yellow_interval_days),
        "red_interval_days": _interval(data, "red_interval_days", base.red_interval_days),
    }
    rules = _clean_rules(data["rules"]) if "rules" in data or rule_set is None else None
    if values["active"]:
        clash = ColourRuleSet.objects.filter(colour_kind=kind, active=True)
        if rule_set is not None:
            clash = clash.exclude(pk=rule_set.pk)
        other = clash.first()
        if other is not None:
            raise ColourError(
                "conflict",
                f"对象类型 {kind} 已有启用的规则集“{other.name}”，请先停用它。",
                details={"field": "active", "rule_set": other.pk},
            )
    before = {k: getattr(rule_set, k) for k in values} if rule_set is not None else {}
    with transaction.atomic():
        for key, value in values.items():
            setattr(base, key, value)
        base.save()
        if rules is not None:
            base.rules.all().delete()
            ColourRule.objects.bulk_create(ColourRule(rule_set=base, **row) for row in rules)
        changes = audit.diff(before, values)
        if rules is not None:
            changes["rules"] = len(rules)
        audit.record(
            actor,
            "colours.configure",
            base,
            changes=changes,
        )
    clear_rule_cache()
    return base


def recompute_kind(progress=None, *, kind: str, grid: str = "") -> dict:
    """Recompute every object of a colour kind (optionally in a grid subtree); a job function
    (``core.jobs``: ``progress`` has set_total/advance) and the CLI's worker."""
    from .objects import model_by_kind

    model = model_by_kind(kind)
    if model is None:
        raise ColourError("invalid", f"未知的对象类型：{kind}。")
    qs = model._default_manager.all()
    if grid:
        qs = qs.filter(grid_code__startswith=grid)
    if progress is not None:
        progress.set_total(qs.count())
    return recompute_many(qs, progress=progress.advance if progress is not None else None)
