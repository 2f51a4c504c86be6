"""Reads of sample frames: minimums from the round's config, each unit's counts, duplicates across lists.

None of these return personal data; the office's reads of rows are services (they write the audit log).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from cases import access
from cases import models as m
from cases.social.layouts import HOT_KINDS
from cases.social.models import SampleFrame, SampleListKind, SampleRow
from cases.social.rules import DEFAULT_MINIMUMS

# The round may replace any of the seed's minimums (config `sample_minimums`, cases/social/rules.py), name each
# unit's type (`sample_unit_types`, by unit code) and agree a unit's own figure (`sample_minimum_overrides`,
# by unit code: 协商沟通 in the seed).
CATEGORY_TYPES: dict[str, str] = {m.UnitCategory.GOVERNMENT: "economic", m.UnitCategory.INSTITUTION: "institution"}


def unit_type(round: m.Round, unit: m.Unit) -> str:
    configured = (round.config or {}).get("sample_unit_types") or {}
    return str(configured.get(unit.code) or CATEGORY_TYPES.get(unit.category, "party_mass"))


def minimum_for(round: m.Round, unit: m.Unit, kind: str) -> int:
    """The fewest people the unit's list of `kind` may have (0: no minimum)."""
    if kind not in HOT_KINDS:
        return 0
    config = round.config or {}
    overrides = config.get("sample_minimum_overrides") or {}
    if unit.code in overrides:
        return int(overrides[unit.code])
    minimums = {**DEFAULT_MINIMUMS, **(config.get("sample_minimums") or {})}
    return int(minimums.get(unit_type(round, unit), 0))


# The lists a unit owes, by its family (seed 004 二): its system's cadres and its hot/difficult work.
FAMILY_KINDS: dict[str, tuple[str, str]] = {
    "institution": (SampleListKind.INSTITUTION_SYSTEM, SampleListKind.INSTITUTION_HOT),
    "party_mass": (SampleListKind.PARTY_SYSTEM, SampleListKind.PARTY_HOT),
}
GOVERNMENT_KINDS = (SampleListKind.GOV_SYSTEM, SampleListKind.GOV_HOT)


def required_kinds(round: m.Round, unit: m.Unit) -> tuple[str, str]:
    """The two lists the unit delivers: 附件2/3 for government bodies, 4/5 for party/mass units, 6/7 for
    the institutions under the civil-service law."""
    return FAMILY_KINDS.get(unit_type(round, unit), GOVERNMENT_KINDS)


def delivery_problems(round: m.Round, unit: m.Unit) -> list[str]:
    """Why the unit cannot yet report its lists delivered: a list missing or under its minimum."""
    current = {f.kind: f.row_count for f in SampleFrame.objects.filter(round=round, unit=unit, is_current=True)}
    problems = []
    for kind in required_kinds(round, unit):
        label = SampleListKind(kind).label
        if kind not in current:
            problems.append(f"尚未上传{label}。")
        elif current[kind] < minimum_for(round, unit, kind):
            problems.append(f"{label}只有 {current[kind]} 人，少于 {minimum_for(round, unit, kind)} 人。")
    return problems


def visible_frames(user: m.User, round: m.Round) -> QuerySet[SampleFrame]:
    return access.visible(SampleFrame, user).filter(round=round)


def summary(user: m.User, round: m.Round) -> list[dict[str, Any]]:
    """Per unit the user may see: its type, its lists' current counts (and versions) against the minimums."""
    frames = list(visible_frames(user, round).select_related("unit").order_by("unit_id", "kind", "-version"))
    units = list(access.sample_frame_units(user, round).order_by("sort_order", "code"))
    out = []
    for unit in units:
        own = [f for f in frames if f.unit_id == unit.pk]
        lists = []
        for kind, label in SampleListKind.choices:
            versions = [f for f in own if f.kind == kind]
            current = next((f for f in versions if f.is_current), None)
            minimum = minimum_for(round, unit, kind)
            lists.append({
                "kind": kind, "label": str(label), "minimum": minimum,
                "frame": current.pk if current else None,
                "version": current.version if current else None,
                "rows": current.row_count if current else 0,
                "uploaded_at": current.uploaded_at.isoformat() if current else None,
                "versions": len(versions),
                "meets_minimum": current is not None and current.row_count >= minimum,
            })
        out.append({"unit": unit.pk, "unit_name": unit.name, "unit_type": unit_type(round, unit), "lists": lists})
    return out


def cross_list_duplicates(round: m.Round) -> list[dict[str, Any]]:
    """People (same name and mobile, by their keyed hash) on more than one current row of one unit's lists,
    over the whole round: one GROUP BY on the indexed hash. No names: the unit, the hash and the count."""
    rows = (SampleRow.objects.filter(frame__round=round, frame__is_current=True).exclude(person_hash="")
            .values("frame__unit_id", "person_hash").annotate(n=Count("id")).filter(n__gt=1)
            .order_by("frame__unit_id", "person_hash"))
    return [{"unit": r["frame__unit_id"], "person_hash": r["person_hash"], "rows": r["n"]} for r in rows]
