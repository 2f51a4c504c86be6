"""Import of units, people and a round's groups from one workbook (layout: `cases.imports.sheets`,
docs/imports.md). The office's only.

Two phases. **Validate**: the whole file is read (within the import bounds), every cell checked, every
reference resolved (a parent unit, a person's unit, a group's people and units, against the file and the
database) and every problem collected as (sheet, row, column, message); the outcome is a plan: what
each row creates, updates or leaves unchanged. **Apply**: only when there is no problem at all, the plan
is written in one transaction (all or nothing), through the round services for groups and their cases,
audited. Re-importing the same file finds nothing to change and writes nothing (idempotent).

Keys: a unit is its 名称; a person their 账号 (username), or, with no 账号, their 手机 (an existing account
with that mobile; a new one gets the mobile as its username); a group its number in the round.

New accounts get a random one-time password, returned once in the result (never stored in clear, never
audited). It is hashed with PBKDF2 at `ONE_TIME_PASSWORD_ITERATIONS` rather than the default million:
docs/imports.md explains why this is safe (a 12-character random secret, and Django re-hashes it at the
full cost on first login) and what it buys (1,000 accounts in under a second instead of six minutes).
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from cases import models as m
from cases.errors import Conflict
from cases.imports import sheets as sh
from cases.imports.sheets import GROUPS, PEOPLE, UNITS, Problem, SheetRow
from cases.services import rounds
from cases.services.audit import audit, audit_many
from cases.services.common import require_office

ONE_TIME_PASSWORD_LENGTH = 12
# No 0/O, 1/l/I: the office reads the password out or copies it onto paper.
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
ONE_TIME_PASSWORD_ITERATIONS = 2_000

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
PHONE = re.compile(r"^[0-9+()（）\- 转]{5,32}$")
CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
USERNAME = re.compile(r"^[\w.@+-]{1,150}$")

PERSON_FIELDS = ("display_name", "title", "office_phone", "mobile", "email", "org_role")
GROUP_ROLES = (("组长", m.GroupRole.LEADER), ("副组长", m.GroupRole.DEPUTY), ("成员", m.GroupRole.EXPERT),
               ("联络员", m.GroupRole.LIAISON))


class ImportRefused(Exception):
    """The file has problems; nothing was changed. ``problems`` names every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, created: bool, changed: bool) -> None:
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass(frozen=True)
class NewAccount:
    username: str
    display_name: str
    password: str  # "" in a dry run: nothing was created


@dataclass
class ImportResult:
    dry_run: bool
    units: Counts
    people: Counts
    groups: Counts
    accounts: list[NewAccount]

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for c in (self.units, self.people, self.groups))


# --- the plan -------------------------------------------------------------------------------------


@dataclass
class UnitPlan:
    name: str
    unit: m.Unit | None
    fields: dict[str, Any]  # short_name, category, sort_order, code: only those the file sets
    parent: str | None  # the parent's name; None: keep (an existing unit) or none (a new one)
    clear_parent: bool = False


@dataclass
class PersonPlan:
    username: str
    user: m.User | None
    fields: dict[str, str] = field(default_factory=dict)  # only those the file sets
    memberships: set[tuple[str, str]] | None = None  # (unit name, unit role); None: keep
    from_sheet: bool = False


@dataclass
class GroupPlan:
    number: int
    name: str
    phone: str | None
    members: list[tuple[PersonPlan, str]]
    units: list[str]
    group: m.Group | None


class _Checker:
    """Collects problems; each check returns the clean value or None after recording one."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, row: SheetRow, header: str, message: str) -> None:
        self.problems.append(Problem(row.sheet, row.number, row.letter(header), header, message))

    def text(self, row: SheetRow, header: str, max_length: int, *, required: bool = False,
             compact: bool = False) -> str | None:
        value = row.get(header)
        if compact:
            value = sh.compact(value)
        if required and not value:
            self.error(row, header, "必填。")
            return None
        if len(value) > max_length:
            self.error(row, header, f"不能超过 {max_length} 个字符（现有 {len(value)} 个）。")
            return None
        return value

    def pattern(self, row: SheetRow, header: str, regex: re.Pattern[str], message: str) -> str | None:
        value = row.get(header)
        if value and not regex.fullmatch(value):
            self.error(row, header, message)
            return None
        return value


# --- units ----------------------------------------------------------------------------------------


class _Units:
    def __init__(self, checker: _Checker, rows: list[SheetRow]) -> None:
        self.c = checker
        self.existing = {u.name: u for u in m.Unit.objects.all()}
        self.name_of_pk = {u.pk: u.name for u in self.existing.values()}
        self.plans: dict[str, UnitPlan] = {}
        self.rows = rows
        names = {sh.compact(r.get("名称")) for r in rows} | set(self.existing)
        short: dict[str, set[str]] = defaultdict(set)
        for u in self.existing.values():
            if u.short_name:
                short[u.short_name].add(u.name)
        for r in rows:
            if r.get("简称"):
                short[r.get("简称")].add(sh.compact(r.get("名称")))
        self.names = names
        self.short = short

    def resolve(self, text: str) -> str | None | tuple[str, ...]:
        """A unit's name from its name or a unique short name; the candidates when ambiguous."""
        text = sh.compact(text)
        if text in self.names:
            return text
        candidates = self.short.get(text, set())
        if len(candidates) == 1:
            return next(iter(candidates))
        return tuple(sorted(candidates)) or None

    def check(self) -> None:
        codes = {u.code: u.name for u in self.existing.values()}
        for r in self.rows:
            self._check_row(r, codes)
        self._check_cycles()
        self._new_codes(codes)

    def _check_row(self, r: SheetRow, codes: dict[str, str]) -> None:
        name = self.c.text(r, "名称", 128, required=True, compact=True)
        if name is None:
            return
        if name in self.plans:
            self.c.error(r, "名称", f"单位“{name}”在本表中重复。")
            return
        unit = self.existing.get(name)
        fields: dict[str, Any] = {}
        short = self.c.text(r, "简称", 64)
        if short:
            fields["short_name"] = short
        category = r.get("类别")
        if category not in m.UnitCategory.values:
            self.c.error(r, "类别", "必填。" if not category else
                         f"“{category}”不是可用的类别（{'、'.join(m.UnitCategory.values)}）。")
        else:
            fields["category"] = category
        order = r.get("排序")
        if order:
            if not (order.isascii() and order.isdigit()) or int(order) > 2**31 - 1:
                self.c.error(r, "排序", "必须是不小于 0 的整数。")
            else:
                fields["sort_order"] = int(order)
        code = self.c.pattern(r, "编码", CODE, "只能由字母、数字、“_”“-”“.”组成，最多 32 个字符。")
        if code:
            if codes.get(code, name) != name:
                self.c.error(r, "编码", f"编码“{code}”已被单位“{codes[code]}”使用。")
            else:
                codes[code] = name
                fields["code"] = code
        parent = None
        if r.get("上级单位"):
            found = self.resolve(r.get("上级单位"))
            if not isinstance(found, str):
                self.c.error(r, "上级单位", self._unknown(r.get("上级单位"), found))
            elif found == name:
                self.c.error(r, "上级单位", "上级单位不能是本单位。")
            else:
                parent = found
        self.plans[name] = UnitPlan(name=name, unit=unit, fields=fields, parent=parent)

    @staticmethod
    def _unknown(text: str, found: object) -> str:
        if isinstance(found, tuple):
            return f"简称“{text}”对应多个单位（{'、'.join(found)}），请填写全称。"
        return f"没有名为“{text}”的单位（请先在“单位”表中列出）。"

    def parent_of(self, name: str) -> str | None:
        plan = self.plans.get(name)
        if plan is not None and plan.parent is not None:
            return plan.parent
        unit = self.existing.get(name)
        return self.parent_of_existing(unit) if unit is not None else None

    def _check_cycles(self) -> None:
        rows = {sh.compact(r.get("名称")): r for r in self.rows}
        cyclic = []
        for name, plan in self.plans.items():
            seen, current = {name}, plan.parent
            while current is not None and current != name:
                if current in seen:
                    break  # a cycle further up, reported on its own rows
                seen.add(current)
                current = self.parent_of(current)
            if current == name:
                cyclic.append(plan)
        for plan in cyclic:  # every unit of the cycle, then no parent for any (nothing is written anyway)
            self.c.error(rows[plan.name], "上级单位", "上级单位形成循环。")
        for plan in cyclic:
            plan.parent = None

    def _new_codes(self, codes: dict[str, str]) -> None:
        number = len(codes)
        for plan in self.plans.values():
            if plan.unit is None and "code" not in plan.fields:
                while True:
                    number += 1
                    code = f"U{number:04d}"
                    if code not in codes:
                        break
                codes[code] = plan.name
                plan.fields["code"] = code

    def changes(self, plan: UnitPlan) -> dict[str, Any]:
        """What an existing unit's row changes (field → new value); the parent as its name."""
        assert plan.unit is not None
        out = {k: v for k, v in plan.fields.items() if getattr(plan.unit, k) != v}
        if plan.parent is not None and self.parent_of_existing(plan.unit) != plan.parent:
            out["parent"] = plan.parent
        return out

    def parent_of_existing(self, unit: m.Unit) -> str | None:
        return self.name_of_pk.get(unit.parent_id) if unit.parent_id is not None else None


# --- people ---------------------------------------------------------------------------------------


def _role_problem(role: str, unit: str) -> str | None:
    if role and role not in sh.ROLE_LABELS:
        return f"“{role}”不是可用的角色（{'、'.join(sh.ROLE_LABELS)}）。"
    if role in sh.UNIT_ROLES and not unit:
        return f"角色为{role}时须填写单位。"
    if unit and role not in sh.UNIT_ROLES:
        return "填写了单位时，角色须为填报员或单位负责人。"
    return None


class _People:
    def __init__(self, checker: _Checker, rows: list[SheetRow], units: _Units, actor: m.User) -> None:
        self.c = checker
        self.rows = rows
        self.units = units
        self.actor = actor
        self.plans: dict[str, PersonPlan] = {}  # by username
        self.by_name: dict[str, list[PersonPlan]] = defaultdict(list)
        accounts = {r.get("账号") for r in rows if r.get("账号")}
        mobiles = {r.get("手机") for r in rows if r.get("手机") and not r.get("账号")}
        self.users = {u.username: u for u in m.User.objects.filter(username__in=accounts | mobiles)}
        self.mobile_users: dict[str, list[m.User]] = defaultdict(list)
        for u in m.User.objects.filter(mobile__in=mobiles):
            self.mobile_users[u.mobile].append(u)
        self.memberships: dict[int, set[tuple[str, str]]] = defaultdict(set)

    def load_memberships(self, users: Iterable[m.User]) -> None:
        ids = [u.pk for u in users]
        for user_id, unit_name, role in (m.UnitMembership.objects.filter(user_id__in=ids)
                                         .values_list("user_id", "unit__name", "role")):
            self.memberships[user_id].add((unit_name, role))

    def _user_of(self, row: SheetRow, account: str, mobile: str) -> tuple[str, m.User | None] | None:
        if account:
            return account, self.users.get(account)
        matches = self.mobile_users.get(mobile, [])
        if len(matches) > 1:
            self.c.error(row, "手机", f"手机号对应多个账号（{'、'.join(u.username for u in matches)}），请填写账号。")
            return None
        if matches:
            return matches[0].username, matches[0]
        taken = self.users.get(mobile)
        if taken is not None:
            self.c.error(row, "手机", f"账号“{mobile}”已被他人使用（手机号不同），请填写账号。")
            return None
        return mobile, None

    def check(self) -> None:
        for r in self.rows:
            self._check_row(r)
        self.load_memberships(p.user for p in self.plans.values() if p.user is not None)

    def _fields(self, r: SheetRow, name: str) -> dict[str, str]:
        fields = {"display_name": name}
        for header, key, length in (("职务", "title", 128), ("办公电话", "office_phone", 32), ("邮箱", "email", 254)):
            value = self.c.text(r, header, length)
            if value:
                fields[key] = value
        if fields.get("office_phone") and not PHONE.fullmatch(fields["office_phone"]):
            self.c.error(r, "办公电话", "电话号码只能包含数字、“-”、括号、空格和“转”，5 至 32 位。")
        if fields.get("email"):
            try:
                validate_email(fields["email"])
            except ValidationError:
                self.c.error(r, "邮箱", "不是有效的电子邮箱地址。")
        return fields

    def _check_row(self, r: SheetRow) -> None:
        name = self.c.text(r, "姓名", 64, required=True, compact=True)
        account = self.c.pattern(r, "账号", USERNAME, "只能由字母、数字和 @ . + - _ 组成，最多 150 个字符。")
        mobile = self.c.pattern(r, "手机", MOBILE, "必须是 11 位手机号码。")
        if not r.get("账号") and not r.get("手机"):
            self.c.error(r, "账号", "账号与手机至少填写一项。")
        fields = self._fields(r, name or "")
        if mobile:
            fields["mobile"] = mobile
        role, unit_text = r.get("角色"), r.get("单位")
        unit = None
        if unit_text:
            found = self.units.resolve(unit_text)
            if isinstance(found, str):
                unit = found
            else:
                self.c.error(r, "单位", self.units._unknown(unit_text, found))
        problem = _role_problem(role, unit_text)
        if problem:
            self.c.error(r, "角色", problem)
        if name is None or account is None or mobile is None or (not account and not mobile):
            return
        keyed = self._user_of(r, account, mobile)
        if keyed is None:
            return
        username, user = keyed
        if username in self.plans:
            self.c.error(r, "账号" if account else "手机", f"人员“{username}”在本表中重复。")
            return
        plan = PersonPlan(username=username, user=user, fields=fields, from_sheet=True)
        if role in sh.ORG_ROLES or role in sh.NO_ROLE:
            plan.fields["org_role"] = sh.ORG_ROLES.get(role, "")
            if user is not None and user.pk == self.actor.pk and plan.fields["org_role"] != user.org_role:
                self.c.error(r, "角色", "不能通过导入修改自己的角色。")
        elif role in sh.UNIT_ROLES and unit:
            plan.memberships = {(unit, sh.UNIT_ROLES[role])}
        self.plans[username] = plan
        self.by_name[fields["display_name"]].append(plan)

    def changed_fields(self, plan: PersonPlan) -> dict[str, str]:
        assert plan.user is not None
        return {k: v for k, v in plan.fields.items() if getattr(plan.user, k) != v}

    def memberships_change(self, plan: PersonPlan) -> bool:
        if plan.memberships is None:
            return False
        current = self.memberships.get(plan.user.pk, set()) if plan.user is not None else set()
        return current != plan.memberships


# --- groups ---------------------------------------------------------------------------------------


class _Groups:
    def __init__(self, checker: _Checker, rows: list[SheetRow], round: m.Round, units: _Units,
                 people: _People) -> None:
        self.c = checker
        self.rows = rows
        self.round = round
        self.units = units
        self.people = people
        self.plans: dict[int, GroupPlan] = {}
        self.numbers: set[int] = set()
        self.new_people: dict[str, PersonPlan] = {}  # by name: people the groups sheet introduces
        self.existing = {g.number: g for g in round.groups.all()}
        refs = {ref[0] for r in rows for header, _ in GROUP_ROLES for item in sh.split_list(r.get(header))
                if (ref := sh.person_ref(item)) is not None}
        self.db_users = list(m.User.objects.filter(username__in=refs) | m.User.objects.filter(display_name__in=refs))
        self.members: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for group_id, username, role in (m.GroupMember.objects.filter(group__round=round)
                                         .values_list("group_id", "user__username", "role")):
            self.members[group_id].add((username, role))
        self.cases: dict[str, int] = dict(m.Case.objects.filter(round=round).values_list("unit__name", "group__number"))

    def person(self, r: SheetRow, header: str, text: str) -> PersonPlan | None:
        ref = sh.person_ref(text)
        if ref is None or not ref[0] or len(ref[0]) > 64 or len(ref[1]) > 128:
            self.c.error(r, header, f"“{text}”不是“姓名”或“姓名（职务）”的形式。")
            return None
        name, title = ref
        ok, plan = self._find(r, header, name)
        if not ok:
            return None
        if plan is None:
            plan = self.new_people.get(name)
        if plan is None:
            plan = PersonPlan(username=f"zz{secrets.token_hex(5)}", user=None, fields={"display_name": name})
            self.new_people[name] = plan
        if title and not plan.from_sheet:
            plan.fields["title"] = title
        return plan

    def _find(self, r: SheetRow, header: str, name: str) -> tuple[bool, PersonPlan | None]:
        """The person a cell names: an account, or a unique name in the 人员 sheet or the database;
        (False, None) after recording an ambiguity, (True, None) when nobody has that name (a new person)."""
        people = self.people
        if name in people.plans:
            return True, people.plans[name]
        accounts = [u for u in self.db_users if u.username == name]
        if accounts:
            return True, self._wrap(accounts[0])
        in_sheet = people.by_name.get(name, [])
        if len(in_sheet) > 1:
            self.c.error(r, header, f"“人员”表中有 {len(in_sheet)} 人名为“{name}”，请改填账号。")
            return False, None
        if in_sheet:
            return True, in_sheet[0]
        in_db = [u for u in self.db_users if u.display_name == name]
        if len(in_db) > 1:
            names = "、".join(u.username for u in in_db)
            self.c.error(r, header, f"系统中有 {len(in_db)} 人名为“{name}”（{names}），请改填账号。")
            return False, None
        return True, (self._wrap(in_db[0]) if in_db else None)

    def _wrap(self, user: m.User) -> PersonPlan:
        plan = self.people.plans.get(user.username)
        if plan is None:
            plan = PersonPlan(username=user.username, user=user)
            self.people.plans[user.username] = plan
        return plan

    def check(self) -> None:
        placed: dict[str, int] = {}
        for r in self.rows:
            self._check_row(r, placed)
        for unit, number in self.cases.items():
            if unit in placed and number != placed[unit] and number not in self.plans:
                row = next(x for x in self.rows if sh.group_number(x.get("组别")) == placed[unit])
                self.c.error(row, "考评单位", f"“{unit}”已在本轮次的第{number}组（文件中没有该组）。")

    def _check_row(self, r: SheetRow, placed: dict[str, int]) -> None:
        number = sh.group_number(r.get("组别"))
        if number is None or not 1 <= number <= 999:
            self.c.error(r, "组别", f"“{r.get('组别')}”不是组别（如“第一组”“第一考核调研组”或“1”）。")
            return
        name = self.c.text(r, "组别", 64, required=True)
        if number in self.numbers:
            self.c.error(r, "组别", f"第{number}组在本表中重复。")
            return
        self.numbers.add(number)
        phone = self.c.pattern(r, "联系电话", PHONE, "电话号码只能包含数字、“-”、括号、空格和“转”，5 至 32 位。")
        members = self._members(r)
        units = self._units(r, number, placed)
        if name is None or phone is None or members is None or units is None:
            return
        self.plans[number] = GroupPlan(number=number, name=sh.group_name(name, number), phone=phone or None,
                                       members=members, units=units, group=self.existing.get(number))

    def _members(self, r: SheetRow) -> list[tuple[PersonPlan, str]] | None:
        members: list[tuple[PersonPlan, str]] = []
        ok = True
        for header, role in GROUP_ROLES:
            for item in sh.split_list(r.get(header)):
                plan = self.person(r, header, item)
                if plan is None:
                    ok = False
                elif (plan, role) in members:
                    self.c.error(r, header, f"“{item}”重复。")
                    ok = False
                else:
                    members.append((plan, role))
        liaisons = [p for p, role in members if role == m.GroupRole.LIAISON]
        mobile = self.c.pattern(r, "联络员手机", MOBILE, "必须是 11 位手机号码。")
        if mobile and len(liaisons) != 1:
            self.c.error(r, "联络员手机", "填写联络员手机时须有且只有一名联络员。")
            ok = False
        elif mobile and not liaisons[0].from_sheet:
            liaisons[0].fields["mobile"] = mobile
        return members if ok and mobile is not None else None

    def _units(self, r: SheetRow, number: int, placed: dict[str, int]) -> list[str] | None:
        names: list[str] = []
        ok = True
        items = sh.split_list(r.get("考评单位"))
        if not items:
            self.c.error(r, "考评单位", "必填：至少一个单位。")
            return None
        for item in items:
            found = self.units.resolve(item)
            if not isinstance(found, str):
                self.c.error(r, "考评单位", self.units._unknown(item, found))
                ok = False
            elif found in placed:
                self.c.error(r, "考评单位", f"“{item}”已在第{placed[found]}组。" if placed[found] != number
                             else f"“{item}”重复。")
                ok = False
            else:
                placed[found] = number
                names.append(found)
        return names if ok else None

    def members_change(self, plan: GroupPlan) -> bool:
        assert plan.group is not None
        wanted = {(p.username, role) for p, role in plan.members}
        return wanted != self.members.get(plan.group.pk, set())

    def units_change(self, plan: GroupPlan) -> bool:
        assert plan.group is not None
        current = {unit for unit, number in self.cases.items() if number == plan.number}
        return current != set(plan.units)

    def changes(self, plan: GroupPlan) -> dict[str, str]:
        assert plan.group is not None
        out = {}
        if plan.group.name != plan.name:
            out["name"] = plan.name
        if plan.phone is not None and plan.group.phone != plan.phone:
            out["phone"] = plan.phone
        return out


# --- the import ------------------------------------------------------------------------------------


@dataclass
class _Plan:
    units: _Units
    people: _People
    groups: _Groups | None


def _validate(*, user: m.User, fileobj: IO[bytes], round: m.Round | None) -> _Plan:
    book = sh.read_workbook(fileobj)
    if book.problems and not any(book.sheets.values()):
        raise ImportRefused(book.problems)
    checker = _Checker()
    checker.problems.extend(book.problems)
    units = _Units(checker, book.sheets[UNITS])
    units.check()
    people = _People(checker, book.sheets[PEOPLE], units, user)
    people.check()
    groups = None
    if book.sheets[GROUPS]:
        if round is None:
            checker.problems.append(Problem(GROUPS, 0, "", "", "考评组须在某一考评轮次的导入中上传（轮次页面的“导入考评组”）。"))
        else:
            groups = _Groups(checker, book.sheets[GROUPS], round, units, people)
            groups.check()
    if checker.problems:
        raise ImportRefused(checker.problems)
    return _Plan(units, people, groups)


def require_draft_round(round: m.Round | None) -> None:
    """Groups are imported into a draft round only (`Conflict`, a 409, otherwise)."""
    if round is not None and round.status != m.RoundStatus.DRAFT:
        raise Conflict("考评已启动，分组与单位不能再修改。")


def import_workbook(*, user: m.User, fileobj: IO[bytes], round: m.Round | None = None,
                    dry_run: bool = False) -> ImportResult:
    """Import a workbook: units and people, and with `round` (a draft one) its groups. Raises
    :class:`ImportRefused` with every problem (nothing changed), `PermissionDenied` for anyone but the
    office, `Conflict` for a round that is no longer a draft."""
    require_office(user)
    require_draft_round(round)
    with transaction.atomic():
        plan = _validate(user=user, fileobj=fileobj, round=round)
        result = _count(plan, dry_run)
        if not dry_run and result.changed:
            result.accounts = _apply(user, plan, round)
            audit(actor=user, action="import.people", obj=round or user, round_id=round.pk if round else None,
                  after={"units": vars(result.units), "people": vars(result.people), "groups": vars(result.groups)})
    return result


def _all_people(plan: _Plan) -> list[PersonPlan]:
    people = list(plan.people.plans.values())
    if plan.groups is not None:
        people.extend(plan.groups.new_people.values())
    return people


def _count(plan: _Plan, dry_run: bool) -> ImportResult:
    result = ImportResult(dry_run=dry_run, units=Counts(), people=Counts(), groups=Counts(), accounts=[])
    for u in plan.units.plans.values():
        result.units.add(u.unit is None, u.unit is not None and bool(plan.units.changes(u)))
    for p in _all_people(plan):
        if p.user is None:
            result.people.add(True, True)
            result.accounts.append(NewAccount(p.username, p.fields.get("display_name", ""), ""))
        else:
            result.people.add(False, bool(plan.people.changed_fields(p)) or plan.people.memberships_change(p))
    if plan.groups is not None:
        g = plan.groups
        for gp in g.plans.values():
            result.groups.add(gp.group is None, gp.group is not None and (
                bool(g.changes(gp)) or g.members_change(gp) or g.units_change(gp)))
    return result


def one_time_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(ONE_TIME_PASSWORD_LENGTH))


def hash_one_time_password(password: str) -> str:
    """The stored hash of a one-time password: the default PBKDF2 at fewer iterations (Django reads the
    count from the hash, and re-hashes at the full count at the first login). Another default hasher
    (argon2, say) hashes as configured."""
    hasher = get_hasher()
    if isinstance(hasher, PBKDF2PasswordHasher):
        return hasher.encode(password, hasher.salt(), iterations=ONE_TIME_PASSWORD_ITERATIONS)
    return make_password(password)


def _apply(user: m.User, plan: _Plan, round: m.Round | None) -> list[NewAccount]:
    units = _apply_units(user, plan.units)
    accounts = _apply_people(user, plan, units)
    if plan.groups is not None and round is not None:
        _apply_groups(user, plan.groups, round, units)
    return accounts


def _apply_units(user: m.User, up: _Units) -> dict[str, m.Unit]:
    by_name = dict(up.existing)

    def depth(name: str) -> int:
        n, current = 0, up.parent_of(name)
        while current is not None and n < len(up.plans) + 1:
            n, current = n + 1, up.parent_of(current)
        return n

    for plan in sorted(up.plans.values(), key=lambda p: depth(p.name)):
        parent = by_name[plan.parent] if plan.parent is not None else None
        if plan.unit is None:
            f = plan.fields
            by_name[plan.name] = rounds.unit_create(
                user=user, code=f["code"], name=plan.name, category=f["category"], short_name=f.get("short_name", ""),
                parent=parent, sort_order=f.get("sort_order", 0))
            continue
        changes = up.changes(plan)
        if changes:
            if "parent" in changes:
                changes["parent"] = parent
            by_name[plan.name] = rounds.unit_update(user=user, unit=plan.unit, **changes)
    return by_name


def _apply_people(user: m.User, plan: _Plan, units: dict[str, m.Unit]) -> list[NewAccount]:
    pp = plan.people
    people = _all_people(plan)
    accounts: list[NewAccount] = []
    new_users: list[m.User] = []
    for p in people:
        if p.user is None:
            password = one_time_password()
            p.user = m.User(username=p.username, password=hash_one_time_password(password),
                            **{k: v for k, v in p.fields.items() if k in PERSON_FIELDS})
            new_users.append(p.user)
            accounts.append(NewAccount(p.username, p.user.display_name, password))
    m.User.objects.bulk_create(new_users, batch_size=500)
    audit_many(actor=user, action="user.import_create", entries=(
        (u, None, {k: getattr(u, k) for k in PERSON_FIELDS}) for u in new_users))
    created = {u.pk for u in new_users}
    updated: list[tuple[m.User, dict[str, Any], dict[str, Any]]] = []
    fields: set[str] = set()
    for p in people:
        assert p.user is not None
        if p.user.pk in created:
            continue
        changes = pp.changed_fields(p)
        if changes:
            before = {k: getattr(p.user, k) for k in changes}
            for key, value in changes.items():
                setattr(p.user, key, value)
            fields |= set(changes)
            updated.append((p.user, before, changes))
    if updated:
        m.User.objects.bulk_update([u for u, _, _ in updated], sorted(fields), batch_size=500)
        audit_many(actor=user, action="user.import_update", entries=updated)
    _apply_memberships(user, pp, people, units, created)
    return accounts


def _apply_memberships(user: m.User, pp: _People, people: list[PersonPlan], units: dict[str, m.Unit],
                       created: set[int]) -> None:
    add: list[m.UnitMembership] = []
    remove: list[int] = []
    entries: list[tuple[m.User, dict[str, Any], dict[str, Any]]] = []
    for p in people:
        assert p.user is not None
        if p.memberships is None:
            continue
        current = set() if p.user.pk in created else pp.memberships.get(p.user.pk, set())
        if current == p.memberships:
            continue
        if current - p.memberships:  # the file replaces the person's unit roles: start afresh
            remove.append(p.user.pk)
            adding = p.memberships
        else:
            adding = p.memberships - current
        add.extend(m.UnitMembership(user=p.user, unit=units[unit], role=role) for unit, role in sorted(adding))
        entries.append((p.user, {"units": sorted(f"{u}:{r}" for u, r in current)},
                        {"units": sorted(f"{u}:{r}" for u, r in p.memberships)}))
    if remove:
        m.UnitMembership.objects.filter(user_id__in=remove).delete()
    m.UnitMembership.objects.bulk_create(add, batch_size=1000)
    audit_many(actor=user, action="user.import_units", entries=[e for e in entries if e[0].pk not in created])


def _specs(plan: GroupPlan) -> list[rounds.GroupMemberSpec]:
    specs: list[rounds.GroupMemberSpec] = []
    for person, role in plan.members:
        assert person.user is not None  # created before the groups
        specs.append({"user": person.user, "role": role})
    return specs


def _apply_groups(user: m.User, gp: _Groups, round: m.Round, units: dict[str, m.Unit]) -> None:
    existing = [p for p in gp.plans.values() if p.group is not None]
    # Units leave their old group before any group takes them (a unit may move between groups of the file).
    for p in existing:
        assert p.group is not None
        if gp.units_change(p):
            keep = [units[u] for u, number in gp.cases.items() if number == p.number and u in p.units]
            rounds.group_set_units(user=user, group=p.group, units=keep)
    for p in existing:
        assert p.group is not None
        if gp.units_change(p):
            rounds.group_set_units(user=user, group=p.group, units=[units[u] for u in p.units])
        changes = gp.changes(p)
        members_change = gp.members_change(p)
        if changes or members_change:
            rounds.group_update(user=user, group=p.group, members=_specs(p) if members_change else None,
                                **changes)
    for p in gp.plans.values():
        if p.group is None:
            rounds.group_create(user=user, round=round, number=p.number, name=p.name, phone=p.phone or "",
                                members=_specs(p),
                                units=[units[u] for u in p.units])
