"""Rubric writes: storing a rubric's dict form, importing a validated rubric file as a new version."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from cases import access
from cases import models as m
from cases.rubrics.document import RubricSpec, rubric_to_dict
from cases.services.audit import audit


@transaction.atomic
def rubric_create(*, spec: dict[str, Any]) -> m.Rubric:
    """Store a parsed rubric (the dict form of a rubric file, see docs/rubrics.md)."""
    sections = spec.get("sections") or []
    total = sum((Decimal(str(s["max"])) for s in sections), Decimal(0))
    version = int(spec.get("version", 1))
    # The stored document says the version and total the row was given: whatever reads `spec` as a rubric
    # file (the export) gets a complete document also from a minimal dict (tests, benchmarks).
    spec = {**spec, "version": version, "total_max": str(spec.get("total_max", total))}
    rubric = m.Rubric.objects.create(
        code=spec["code"],
        version=version,
        title=spec["title"],
        total_max=total,
        spec=spec,
    )
    items = []
    for s_pos, section_spec in enumerate(sections):
        section = m.RubricSection.objects.create(
            rubric=rubric,
            code=section_spec["code"],
            title=section_spec["title"],
            max_points=Decimal(str(section_spec["max"])),
            position=s_pos,
        )
        for i_pos, item in enumerate(section_spec.get("items") or []):
            items.append(
                m.RubricItem(
                    rubric=rubric,
                    section=section,
                    code=item["code"],
                    content=item.get("content", ""),
                    max_points=Decimal(str(item["max"])),
                    bonus_cap=Decimal(str(item.get("bonus_cap", "0"))),
                    evidence_required=bool(item.get("evidence_required", False)),
                    veto=bool(item.get("veto", False)),
                    rules=item.get("rules") or [],
                    position=i_pos,
                )
            )
    m.RubricItem.objects.bulk_create(items)
    return rubric


@transaction.atomic
def rubric_import(*, user: m.User | None, spec: RubricSpec) -> m.Rubric:
    """Store a validated rubric file (`cases.rubrics.document.RubricSpec`) as a new rubric version;
    `user=None` is the system (the `load_rubrics` command). A version, once stored, is never
    overwritten: publish the next version number instead."""
    if user is not None and not access.is_office(user):
        raise PermissionDenied("只有考核办可以导入考评细则。")
    exists = ValidationError({"version": [f"细则 {spec.code} 的第 {spec.version} 版已存在，请使用新的版本号。"]})
    if m.Rubric.objects.filter(code=spec.code, version=spec.version).exists():
        raise exists
    try:
        with transaction.atomic():
            rubric = rubric_create(spec=rubric_to_dict(spec))
    except IntegrityError:  # the same version imported at the same moment
        raise exists from None
    if user is not None:
        audit(actor=user, action="rubric.import", obj=rubric, after={"code": spec.code, "version": spec.version})
    return rubric
