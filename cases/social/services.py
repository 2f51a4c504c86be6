"""Sample-frame uploads (a unit's staff, while its social-evaluation round runs) and the office's audited
reads and exports of the personal data. All or nothing: a file with any problem changes nothing and
answers every problem by row and column; an accepted file becomes the list's new current version.
"""

from __future__ import annotations

import hashlib
import io
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from openpyxl import Workbook

from cases import access
from cases import models as m
from cases.errors import Conflict
from cases.imports.sheets import Problem
from cases.services.audit import audit
from cases.social import layouts
from cases.social.crypto import current_cipher
from cases.social.models import SampleFrame, SampleListKind, SampleRow
from cases.social.selectors import minimum_for


class FrameRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def require_uploadable(user: m.User, round: m.Round, unit: m.Unit) -> None:
    """Before the file is read: the unit's staff, a unit of this round, a running social round."""
    if not access.can_upload_sample_frame(user, round, unit):
        raise PermissionDenied("只有本单位填报员可以上传本单位的抽样框。")
    if round.kind != m.RoundKind.SOCIAL:
        raise Conflict("只有社会评价轮次需要上传抽样框。")
    if round.status != m.RoundStatus.RUNNING:
        raise Conflict("考评未在进行中，不能上传抽样框。")


def _digest(fileobj: IO[bytes]) -> str:
    fileobj.seek(0)
    digest = hashlib.sha256(fileobj.read()).hexdigest()
    fileobj.seek(0)
    return digest


def validate(round: m.Round, unit: m.Unit, kind: str, fileobj: IO[bytes]) -> tuple[list[dict[str, str]], list[Problem]]:
    """The file's people as clean values (with their hashes), and every problem of it."""
    read = layouts.read_frame(kind, fileobj)
    problems = list(read.problems)
    if problems and not read.rows:
        return [], problems
    cipher = current_cipher()
    people: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for expected, row in enumerate(read.rows, start=1):
        problems.extend(layouts.row_problems(kind, read.sheet, row, expected))
        person_hash = cipher.person_hash(row.get("姓名"), row.get("手机号码")) if row.get("姓名") else ""
        if person_hash:
            if person_hash in seen:
                problems.append(Problem(read.sheet, row.number, row.letters.get("手机号码", ""), "手机号码",
                                        f"与第 {seen[person_hash]} 行为同一人（姓名和手机号码相同）。"))
            else:
                seen[person_hash] = row.number
        people.append({**row.cells, "_hash": person_hash, "_row": str(row.number)})
    # The unit's other lists of this round: nobody twice (seed: 各部门提供的各类人员之间不能重复).
    if seen:
        others = (SampleRow.objects.filter(frame__round=round, frame__unit=unit, frame__is_current=True,
                                           person_hash__in=list(seen))
                  .exclude(frame__kind=kind).values_list("person_hash", "frame__kind", "seq"))
        labels = dict(SampleListKind.choices)
        for person_hash, other_kind, seq in others:
            number = seen[person_hash]
            letters = read.rows[0].letters if read.rows else {}
            problems.append(Problem(read.sheet, number, letters.get("手机号码", ""), "手机号码",
                                    f"此人已在本单位的“{labels[other_kind]}”第 {seq} 号（姓名和手机号码相同）。"))
    minimum = minimum_for(round, unit, kind)
    if len(read.rows) < minimum:
        problems.append(Problem(read.sheet, 0, "", "", f"名单共 {len(read.rows)} 人，少于要求的 {minimum} 人。"))
    problems.sort(key=lambda p: (p.row, p.column))
    return people, problems


def upload_frame(*, user: m.User, round: m.Round, unit: m.Unit, kind: str, fileobj: IO[bytes],
                 filename: str = "") -> SampleFrame:
    """Validate and store a list as the unit's new current version of `kind`; raises FrameRefused
    with every problem (nothing changed), PermissionDenied or Conflict."""
    require_uploadable(user, round, unit)
    if kind not in layouts.LAYOUTS:
        raise FrameRefused([Problem("", 0, "", "", "未知的抽样框类型。")])
    digest = _digest(fileobj)
    people, problems = validate(round, unit, kind, fileobj)
    if problems:
        raise FrameRefused(problems)
    cipher = current_cipher()
    address_header = layouts.ADDRESS_HEADER if layouts.ADDRESS_HEADER in layouts.LAYOUTS[kind] else "单位"
    with transaction.atomic():
        # Lock the unit's case in the round: two uploads at once get consecutive versions, and the
        # cross-list check above is not raced by an upload of the unit's other list (checked again below).
        m.Case.objects.select_for_update().filter(round=round, unit=unit).first()
        hashes = [p["_hash"] for p in people if p["_hash"]]
        if SampleRow.objects.filter(frame__round=round, frame__unit=unit, frame__is_current=True,
                                    person_hash__in=hashes).exclude(frame__kind=kind).exists():
            raise FrameRefused([Problem("", 0, "", "", "本单位的其他名单刚刚更新，与本文件有重复人员，请重新上传。")])
        previous = list(SampleFrame.objects.filter(round=round, unit=unit, kind=kind).order_by("-version"))
        current = next((f for f in previous if f.is_current), None)
        if current:
            SampleFrame.objects.filter(pk=current.pk).update(is_current=False)
        frame = SampleFrame.objects.create(
            round=round, unit=unit, kind=kind, version=(previous[0].version + 1) if previous else 1,
            row_count=len(people), filename=filename[:255], sha256=digest, uploaded_by=user)
        SampleRow.objects.bulk_create(
            (SampleRow(frame=frame, seq=int(p["序号"]), name=cipher.encrypt(p["姓名"]), gender=p["性别"],
                       organisation=p.get(address_header, "")[:255], title=p.get("职务", "")[:128],
                       area_code=p.get("区号", ""), office_phone=cipher.encrypt(p.get("办公电话", "")),
                       mobile=cipher.encrypt(p.get("手机号码", "")), postcode=p.get("邮政编码", ""),
                       remark=p.get("备注", "")[:255], person_hash=p["_hash"])
             for p in people), batch_size=1000)
        audit(actor=user, action="sample_frame.upload", obj=frame, round_id=round.pk,
              before={"frame": current.pk, "version": current.version, "rows": current.row_count} if current else None,
              after={"unit": unit.pk, "kind": kind, "version": frame.version, "rows": frame.row_count,
                     "sha256": digest})
    return frame


def _require_reader(user: m.User) -> None:
    if not access.can_read_sample_rows(user):
        raise PermissionDenied("只有考核办可以查看和导出抽样框中的个人信息。")


def decrypted_rows(frame: SampleFrame) -> list[dict[str, Any]]:
    cipher = current_cipher()
    return [{"seq": r.seq, "name": cipher.decrypt(r.name), "gender": r.gender, "organisation": r.organisation,
             "title": r.title, "area_code": r.area_code, "office_phone": cipher.decrypt(r.office_phone),
             "mobile": cipher.decrypt(r.mobile), "postcode": r.postcode, "remark": r.remark}
            for r in frame.rows.order_by("seq")]


def read_rows(*, user: m.User, frame: SampleFrame) -> list[dict[str, Any]]:
    """The office reads a list's people in clear; the read is audited."""
    _require_reader(user)
    rows = decrypted_rows(frame)
    audit(actor=user, action="sample_frame.read", obj=frame, round_id=frame.round_id,
          after={"unit": frame.unit_id, "kind": frame.kind, "version": frame.version, "rows": len(rows)})
    return rows


def export_xlsx(*, user: m.User, frame: SampleFrame) -> bytes:
    """The list in its seed layout (附件2–7) as .xlsx, for the survey agency; the export is audited."""
    _require_reader(user)
    rows = decrypted_rows(frame)
    layout = layouts.LAYOUTS[frame.kind]
    wb = Workbook()
    ws = wb.active
    ws.title = f"附件{layouts.ATTACHMENT[frame.kind]}"
    ws.append([str(SampleListKind(frame.kind).label)])
    ws.append([f"报送单位：{frame.unit.name}", "", "", f"报送时间：{frame.uploaded_at:%Y-%m-%d}"])
    ws.append(list(layout))
    for r in rows:
        ws.append([r["seq"], r["name"], r["gender"], r["organisation"], r["title"], r["area_code"],
                   r["office_phone"], r["mobile"], r["postcode"] if "邮政编码" in layout else r["remark"]])
    out = io.BytesIO()
    wb.save(out)
    audit(actor=user, action="sample_frame.export", obj=frame, round_id=frame.round_id,
          after={"unit": frame.unit_id, "kind": frame.kind, "version": frame.version, "rows": len(rows)})
    return out.getvalue()
