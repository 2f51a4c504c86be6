"""Round templates (考评模板): one readable YAML file per kind of round the seed notices describe, chosen when
the office creates a round.

A template names the round's kind, its rubric (by code: a file of `cases/fixtures/rubrics/`, loaded on first
use), how many days each phase lasts, the inspection methods, the round configuration (`Round.config`:
aggregation, grades, components' weights come with the rubric, report limit, …; docs/round-config.md) and the
launch notice's requirements. The ready templates live in `cases/fixtures/round_templates/` (picked on the
rounds page or by code through the API); an office may also download one, change it and send the changed copy
(`POST /api/v1/round-templates/create-round/` with `template_yaml`).
A template is checked like a rubric file: every problem at once, each named by its path
(`phases.inspect: must be at least 1`). Format: docs/round-templates.md.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from django.conf import settings

from cases import models as m
from cases.scoring import round_config
from cases.validation import Dialect, DocumentError, Validator

TEMPLATES = Path(__file__).resolve().parent / "fixtures" / "round_templates"
RUBRICS = Path(__file__).resolve().parent / "fixtures" / "rubrics"
# The phases in order, each ending at the due field of the same name.
PHASES = ("prepare", "inspect", "review", "approve", "report")
MAX_PHASE_DAYS = 366

TEMPLATE_FILE = Dialect(root="template", mapping="mapping", a_mapping="a mapping", sequence="list",
                        a_sequence="a list", null_is_absent=True, decimal_strings_only=False)


@dataclass(frozen=True)
class RoundTemplate:
    code: str
    title: str  # the round's default title ({year} is replaced by the round's year)
    kind: str
    rubric: str  # a rubric's code
    description: str
    seed: str
    phases: dict[str, int]  # days each phase lasts, in PHASES order
    methods: tuple[str, ...]  # InspectionMethod values
    config: dict[str, Any] = field(default_factory=dict)
    requirements: tuple[str, ...] = ()  # the launch notice's 有关要求, one paragraph each

    @property
    def display_title(self) -> str:
        """The title as a list shows it, before a year is chosen."""
        return self.title.replace("{year}", "××××")

    def round_config(self) -> dict[str, Any]:
        """`Round.config` of a round made from this template."""
        extra: dict[str, Any] = {"template": self.code, "methods": list(self.methods)}
        if self.requirements:
            extra["notice_requirements"] = list(self.requirements)
        return {**m.default_round_config(), **self.config, **extra}

    def dues(self, start: date) -> dict[str, datetime]:
        """Each phase's due: the end of its last day, the phases following each other from `start`."""
        zone = ZoneInfo(settings.TIME_ZONE)
        out, day = {}, start
        for phase in PHASES:
            day = day + timedelta(days=self.phases[phase])
            out[f"{phase}_due"] = datetime.combine(day - timedelta(days=1), time(23, 59, 59), tzinfo=zone)
        return out


def template_from_dict(data: object) -> RoundTemplate:
    """A template from its decoded YAML; raises DocumentError with every problem."""
    v = Validator(TEMPLATE_FILE)
    doc = v.mapping(data, "", required=("code", "title", "kind", "rubric", "phases", "methods"),
                    optional=("description", "seed", "config", "requirements", "reconstructed"))
    if doc is None:
        raise DocumentError(v.errors)
    code = v.code(doc.get("code"), "code", max_length=64)
    title = v.text(doc.get("title"), "title")
    kind = v.text(doc.get("kind"), "kind")
    if kind is not None and kind not in m.RoundKind.values:
        v.error("kind", f"must be one of {', '.join(m.RoundKind.values)}")
    rubric = v.code(doc.get("rubric"), "rubric", max_length=64)
    phases: dict[str, int] = {}
    raw_phases = v.mapping(doc.get("phases"), "phases", required=PHASES)
    for phase in PHASES:
        days = v.integer((raw_phases or {}).get(phase), f"phases.{phase}", minimum=1)
        if days is not None and days > MAX_PHASE_DAYS:
            v.error(f"phases.{phase}", f"must be at most {MAX_PHASE_DAYS}")
        elif days is not None:
            phases[phase] = days
    methods = []
    for i, method in enumerate(v.sequence(doc.get("methods"), "methods", non_empty=True) or []):
        text = v.element_text(method, f"methods[{i}]")
        if text is not None and text not in m.InspectionMethod.values:
            v.error(f"methods[{i}]", f"must be one of {', '.join(m.InspectionMethod.values)}")
        elif text is not None:
            methods.append(text)
    config = doc.get("config") or {}
    for problem in round_config.problems(config):
        v.error("config", problem)
    requirements = [text for i, x in enumerate(v.sequence(doc.get("requirements"), "requirements") or [])
                    if (text := v.element_text(x, f"requirements[{i}]")) is not None]
    description = v.text(doc.get("description"), "description", required=False) or ""
    seed = v.text(str(doc["seed"]) if doc.get("seed") is not None else None, "seed", required=False) or ""
    if v.errors:
        raise DocumentError(v.errors)
    assert code and title and kind and rubric  # checked above
    return RoundTemplate(code=code, title=title, kind=kind, rubric=rubric, description=description.strip(),
                         seed=seed, phases=phases, methods=tuple(methods), config=dict(config),
                         requirements=tuple(requirements))


def load_template_yaml(text: str) -> RoundTemplate:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError([f"not valid YAML: {exc}"]) from None
    return template_from_dict(data)


def template_path(code: str) -> Path:
    """A shipped template's file: named after its code."""
    return TEMPLATES / f"{code}.yaml"


@cache
def ready_templates() -> tuple[RoundTemplate, ...]:
    """The templates shipped in `cases/fixtures/round_templates/`, in seed order (read once per process)."""
    found = []
    for path in TEMPLATES.glob("*.yaml"):
        template = load_template_yaml(path.read_text("utf-8"))
        if path != template_path(template.code):
            raise DocumentError([f"{path.name}: a shipped template's file is named after its code ({template.code})"])
        found.append(template)
    return tuple(sorted(found, key=lambda x: (x.seed, x.code)))


def ready_template(code: str) -> RoundTemplate | None:
    return next((t for t in ready_templates() if t.code == code), None)


def rubric_file(code: str) -> Path | None:
    """The shipped rubric file of `code`, if there is one."""
    path = RUBRICS / f"{code}.yaml"
    return path if path.is_file() else None
