"""The sample-frame workbooks of seed 004 (附件2–7) and the per-row validation of their 填报要求.

Layouts (transcribed from the seed; the scraped text writes 姓 名 with a space and half-width brackets):

- 附件2 and 附件4 (system cadres of government / party-and-mass units, 系统市县两级干部):
  序号 | 姓名 | 性别 | 单位(注明具体地址) | 职务 | 区号 | 办公电话 | 手机号码 | 邮政编码
- 附件3, 附件5, 附件7 (hot/difficult work of government / party-and-mass / civil-service-managed units) and
  附件6 (system cadres of civil-service-managed institutions):
  序号 | 姓名 | 性别 | 单位 | 职务 | 区号 | 办公电话 | 手机号码 | 备注

填报要求 encoded here:
1. the list is a worksheet in the layout above (the first sheet of the file is read; a title row and the
   报送单位 row above the header are allowed);
2. 序号 continuous: the n-th person has 序号 n;
3. a landline outside Nanning (the capital, area code 0771, `sample_capital_area_code` on the round) gives
   its area code in 区号 (0 and 2–3 digits) and the local number (7–8 digits) in 办公电话; a mobile outside
   Nanning is written with a leading 0 (0 + 11 digits), a local one as its 11 digits;
4. the system cadres are surveyed by posted questionnaire, so their lists (附件2, 4, 6) must give a concrete
   address in the 单位 column (and, where the layout has it, a 6-digit 邮政编码).
Besides: 姓名, 性别 (男/女) and 单位 are required everywhere, 职务 on the system lists (they list leaders and
middle-level cadres), and each person needs a phone (office or mobile) to be reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO

from openpyxl.utils import get_column_letter

from cases.imports.sheets import Problem, cell_text, workbook_message
from cases.social.models import SampleListKind as K
from cases.workbooks import WorkbookError, WorkbookLimits, open_workbook

MAX_DATA_ROWS = 10_000
HEADER_SEARCH_ROWS = 5

ADDRESS_HEADER = "单位(注明具体地址)"
COMMON = ("序号", "姓名", "性别")
TAIL = ("职务", "区号", "办公电话", "手机号码")
POSTAL_LAYOUT = (*COMMON, ADDRESS_HEADER, *TAIL, "邮政编码")
PLAIN_LAYOUT = (*COMMON, "单位", *TAIL, "备注")

LAYOUTS: dict[str, tuple[str, ...]] = {
    K.GOV_SYSTEM: POSTAL_LAYOUT,
    K.GOV_HOT: PLAIN_LAYOUT,
    K.PARTY_SYSTEM: POSTAL_LAYOUT,
    K.PARTY_HOT: PLAIN_LAYOUT,
    K.INSTITUTION_SYSTEM: PLAIN_LAYOUT,
    K.INSTITUTION_HOT: PLAIN_LAYOUT,
}
ATTACHMENT: dict[str, int] = {K.GOV_SYSTEM: 2, K.GOV_HOT: 3, K.PARTY_SYSTEM: 4, K.PARTY_HOT: 5, K.INSTITUTION_SYSTEM: 6,
              K.INSTITUTION_HOT: 7}
# Questionnaires go by post to these lists' people (填报要求 4).
POSTAL_KINDS: set[str] = {K.GOV_SYSTEM, K.PARTY_SYSTEM, K.INSTITUTION_SYSTEM}
# The lists with a minimum size (二(一)4, 二(二)3, 二(三)3 of the seed).
HOT_KINDS: set[str] = {K.GOV_HOT, K.PARTY_HOT, K.INSTITUTION_HOT}

AREA_CODE = re.compile(r"^0\d{2,3}$")
LANDLINE = re.compile(r"^\d{7,8}$")
MOBILE = re.compile(r"^0?1\d{10}$")
POSTCODE = re.compile(r"^\d{6}$")
# A concrete address names a place (xx市xx路xx号, the seed's example).
ADDRESS_MARK = re.compile(r"[省市县区旗盟州镇乡村路街道巷号弄]")
GENDERS = ("男", "女")
# The stored columns' sizes (cases/social/models.SampleRow); the others are checked by their format.
MAX_LENGTHS = {"姓名": 64, ADDRESS_HEADER: 255, "单位": 255, "职务": 128, "备注": 255}


def normalise_header(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("（", "(").replace("）", ")")


@dataclass
class PersonRow:
    number: int  # the Excel row
    cells: dict[str, str]
    letters: dict[str, str]

    def get(self, header: str) -> str:
        return self.cells.get(header, "")


@dataclass
class ReadFrame:
    sheet: str
    rows: list[PersonRow]
    problems: list[Problem]


def read_frame(kind: str, fileobj: IO[bytes]) -> ReadFrame:
    """The first worksheet's people under the kind's header (bounded read); problems of the file or header."""
    layout = LAYOUTS[kind]
    problems: list[Problem] = []
    limits = WorkbookLimits.from_settings(max_rows=MAX_DATA_ROWS + HEADER_SEARCH_ROWS)
    try:
        with open_workbook(fileobj, limits) as book:
            sheet = book.sheetnames[0]
            raw = book.rows(sheet)
    except WorkbookError as exc:
        problems.extend(Problem("", 0, "", "", workbook_message(message)) for message in exc.messages)
        return ReadFrame("", [], problems)
    header_index = next((i for i, values in enumerate(raw[:HEADER_SEARCH_ROWS])
                         if {"序号", "姓名"} <= {normalise_header(cell_text(v)) for v in values}), None)
    if header_index is None:
        problems.append(Problem(sheet, 0, "", "", f"前 {HEADER_SEARCH_ROWS} 行中没有表头（序号、姓名……），请使用附件"
                                                  f"{ATTACHMENT[kind]}的格式。"))
        return ReadFrame(sheet, [], problems)
    positions: dict[int, str] = {}
    header_row = header_index + 1
    for index, value in enumerate(raw[header_index]):
        text = normalise_header(cell_text(value))
        if not text:
            continue
        letter = get_column_letter(index + 1)
        if text not in layout:
            problems.append(Problem(sheet, header_row, letter, text, f"附件{ATTACHMENT[kind]}的格式中没有此列。"))
        elif text in positions.values():
            problems.append(Problem(sheet, header_row, letter, text, "此列重复。"))
        else:
            positions[index] = text
    for missing in (h for h in layout if h not in positions.values()):
        problems.append(Problem(sheet, header_row, "", missing, "缺少此列。"))
    letters = {name: get_column_letter(index + 1) for index, name in positions.items()}
    rows = []
    for number, values in enumerate(raw[header_index + 1:], start=header_row + 1):
        cells = {name: cell_text(values[index]) for index, name in positions.items() if index < len(values)}
        if any(cells.values()):
            rows.append(PersonRow(number, cells, letters))
    if len(rows) > MAX_DATA_ROWS:
        problems.append(Problem(sheet, 0, "", "", f"名单超过 {MAX_DATA_ROWS} 人的上限。"))
        rows = []
    return ReadFrame(sheet, rows, problems)


def row_problems(kind: str, sheet: str, row: PersonRow, expected_seq: int) -> list[Problem]:
    """Every problem of one person's row (the checks that need no other row)."""
    out: list[Problem] = []

    def bad(header: str, message: str) -> None:
        out.append(Problem(sheet, row.number, row.letters.get(header, ""), header, message))

    for header, limit in MAX_LENGTHS.items():
        if len(row.get(header)) > limit:
            bad(header, f"超过 {limit} 个字符。")
    seq = row.get("序号")
    if not seq:
        bad("序号", "必填。")
    elif not seq.isdigit() or int(seq) != expected_seq:
        bad("序号", f"序号应连续，此行应为 {expected_seq}。")
    if not row.get("姓名"):
        bad("姓名", "必填。")
    if row.get("性别") not in GENDERS:
        bad("性别", "请填写“男”或“女”。" if row.get("性别") else "必填。")
    unit_header = ADDRESS_HEADER if ADDRESS_HEADER in LAYOUTS[kind] else "单位"
    organisation = row.get(unit_header)
    if not organisation:
        bad(unit_header, "必填（问卷邮寄地址）。" if kind in POSTAL_KINDS else "必填。")
    elif kind in POSTAL_KINDS and not ADDRESS_MARK.search(organisation):
        bad(unit_header, "评价问卷需邮寄，请填写具体地址（如：xx市xx路xx号 xx单位）。")
    if kind in POSTAL_KINDS and not row.get("职务"):
        bad("职务", "必填。")
    area, landline, mobile = row.get("区号"), row.get("办公电话"), row.get("手机号码")
    if area and not AREA_CODE.match(area):
        bad("区号", "区号应为0开头的3–4位数字（如0772）。")
    if area and not landline:
        bad("区号", "填写了区号但没有办公电话。")
    if landline and not LANDLINE.match(landline):
        bad("办公电话", "办公电话应为7–8位数字，区号请填在“区号”列。")
    if mobile and not MOBILE.match(mobile):
        bad("手机号码", "手机号码应为11位数字；非南宁本地号码在前面加0（12位）。")
    if not landline and not mobile:
        bad("手机号码", "办公电话和手机号码至少填写一项。")
    if "邮政编码" in LAYOUTS[kind]:
        postcode = row.get("邮政编码")
        if not postcode:
            bad("邮政编码", "必填（问卷邮寄）。")
        elif not POSTCODE.match(postcode):
            bad("邮政编码", "邮政编码应为6位数字。")
    return out
