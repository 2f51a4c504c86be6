"""Rubric formats (YAML / JSON / Excel) and the seed fixtures. Pure: no database."""

import copy
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from cases.rubrics.document import RubricError, RuleSpec, rubric_from_dict, rubric_to_dict, to_scoring_rubric
from cases.rubrics.excel import load_rubric_xlsx, rubric_to_xlsx
from cases.rubrics.text import dump_rubric_json, dump_rubric_yaml, load_rubric_json, load_rubric_yaml
from cases.scoring.engine import ItemMarks, Sheet, sheet_score

D = Decimal
FIXTURES = Path(__file__).resolve().parents[2] / "cases" / "fixtures" / "rubrics"
NAMES = ["wuxing_2016", "city_organ_2013", "luoyang_2013"]


def fixture(name: str):
    return load_rubric_yaml((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))


def errors_of(fn, *args) -> list[str]:
    with pytest.raises(RubricError) as info:
        fn(*args)
    return info.value.messages


def xlsx_roundtrip(spec):
    return load_rubric_xlsx(io.BytesIO(rubric_to_xlsx(spec)))


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------


def test_wuxing_2016():
    spec = fixture("wuxing_2016")
    assert spec.total_max == D(100)
    assert [(s.title, s.max, len(s.items)) for s in spec.sections] == [
        ("组织领导", D(25), 5),
        ("学习型机关", D(20), 5),
        ("创新型机关", D(15), 4),
        ("服务型机关", D(15), 4),
        ("和谐型机关", D(10), 4),
        ("廉洁型机关", D(15), 4),
    ]
    for section in spec.sections:
        assert sum(i.max for i in section.items) == section.max
    items = {i.code: i for i in spec.items}
    assert len(items) == 26
    # 1.1: 少一项内容扣1分 over five elements; honours up to 5 (national)
    assert items["1.1"].bonus_cap == D(5)
    missing, by_level = items["1.1"].rules
    assert (missing.kind, missing.amount, len(missing.elements)) == (
        "deduct_per_missing",
        D(1),
        5,
    )
    assert dict(by_level.levels) == {
        "国家级": D(5),
        "省级": D(3),
        "市级": D(2),
        "工委": D(1),
    }
    # 创新 3.4: 每条加0.5分，累计不超过3分; 未开展此项活动的不得分
    assert items["3.4"].bonus_cap == D(3)
    kinds = {r.kind: r for r in items["3.4"].rules}
    assert kinds["bonus_per_occurrence"].amount == D("0.5")
    assert kinds["bonus_per_occurrence"].cap == D(3)
    assert kinds["no_points"].condition == "未开展征求意见建议活动"
    # 和谐 5.1: 优称率低于90%的，每少10个百分点扣1分
    [percent] = items["5.1"].rules
    assert (percent.threshold, percent.step, percent.amount) == (D(90), D(10), D(1))
    # 廉洁 6.1: 取消当年评先资格
    assert items["6.1"].veto
    assert items["6.1"].rules[0].kind == "disqualify"
    assert items["6.2"].rules[0] == RuleSpec(
        kind="deduct_per_occurrence",
        text="在市直工委纪律作风检查中被通报批评的1次扣2分",
        condition="在市直工委纪律作风检查中被通报批评（每次）",
        amount=D(2),
    )
    every_kind = {r.kind for i in spec.items for r in i.rules}
    assert every_kind == {
        "deduct_per_missing",
        "deduct_per_occurrence",
        "deduct_fixed",
        "deduct_discretionary",
        "deduct_per_percent",
        "bonus_by_level",
        "bonus_per_occurrence",
        "no_points",
        "disqualify",
    }


def test_city_organ_2013():
    spec = fixture("city_organ_2013")
    assert spec.total_max == D(90)
    assert [(s.max, [i.max for i in s.items]) for s in spec.sections] == [
        (D(10), [D(2), D(2), D(3), D(3)]),
        (D(35), [D(5), D(20), D(5), D(3), D(2)]),
        (D(20), [D(5), D(5), D(5), D(3), D(2)]),
        (D(10), [D(3), D(5), D(2)]),
        (D(5), [D(1), D(1), D(2), D(1)]),
        (D(10), [D(2)] * 5),
    ]
    assert [(c.title, c.max) for c in spec.components] == [
        ("集中考评", D(90)),
        ("基层和群众评议", D(5)),
        ("领导评价", D(5)),
    ]
    assert [(d.amount, d.per) for d in spec.deduction_catalogue] == [
        (D(1), "起"),
        (D(1), "起"),
        (D("0.2"), "起"),
        (D("0.5"), "次"),
        (D(3), "起"),
        (D(3), "起"),
        (D(6), "起"),
        (D(10), "起"),
        (D(5), "起"),
    ]
    assert [d.code for d in spec.deduction_catalogue if d.veto] == ["D07", "D09"]
    assert spec.special_bonus_cap == D(5)
    assert list(dict(spec.special_bonus_levels).values())[:3] == [D(3), D(2), D(1)]
    assert len(spec.reconstructed) >= 5
    assert to_scoring_rubric(spec).special_bonus_cap == D(5)


def test_luoyang_2013():
    spec = fixture("luoyang_2013")
    assert spec.total_max == D(1000)
    assert [(s.max, len(s.items)) for s in spec.sections] == [
        (D(120), 3),
        (D(150), 3),
        (D(180), 5),
        (D(150), 3),
        (D(100), 4),
        (D(100), 3),
        (D(200), 4),
    ]
    for section in spec.sections:
        points = [i.max for i in section.items]
        assert sum(points) == section.max
        assert max(points) - min(points) <= 1  # split evenly in whole points
        assert all(p == p.to_integral_value() for p in points)
    assert [(c.title, c.weight) for c in spec.components] == [
        ("年终集中考核", D(70)),
        ("平时考核", D(30)),
    ]
    targets = {t.name: t.target for t in spec.activity_targets}
    assert len(targets) == 18
    assert targets["党委会"] == 6
    assert targets["党员大会（支部）"] == 4
    assert targets["政治学习"] == 24
    assert targets["其中主要领导上党课"] is None
    assert targets["文体活动"] == 2
    assert spec.special_bonus_cap is None
    assert to_scoring_rubric(spec).special_bonus_cap == D(0)


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_records_its_reconstructions_and_scores_full_marks(name):
    spec = fixture(name)
    assert spec.reconstructed
    rubric = to_scoring_rubric(spec)
    assert rubric.max_total == spec.total_max
    assert sheet_score(rubric, Sheet("E", {})) == spec.total_max


@pytest.mark.parametrize("name", NAMES)
def test_fixture_roundtrips_are_lossless(name):
    spec = fixture(name)
    assert load_rubric_yaml(dump_rubric_yaml(spec)) == spec
    assert load_rubric_json(dump_rubric_json(spec)) == spec
    assert rubric_from_dict(rubric_to_dict(spec)) == spec
    again = xlsx_roundtrip(spec)
    assert again == spec
    assert rubric_to_dict(again) == rubric_to_dict(spec)


def test_wuxing_item_scoring_uses_the_rubric_caps():
    rubric = to_scoring_rubric(fixture("wuxing_2016"))
    # 3.4 (max 3, bonus ≤ 3): 7 adopted suggestions × 0.5 = 3.5 → 3; 1.1 −2 → 3
    s = Sheet(
        "E",
        {"3.4": ItemMarks((), (D("0.5"),) * 7), "1.1": ItemMarks((D(1), D(1)))},
    )
    assert sheet_score(rubric, s) == D(100) - D(2) + D(3)


# ---------------------------------------------------------------------------------------
# Validation (all-or-nothing, path-named)
# ---------------------------------------------------------------------------------------


def base() -> dict:
    return copy.deepcopy(rubric_to_dict(fixture("wuxing_2016")))


def test_validation_collects_every_error():
    d = base()
    d["version"] = 0
    d["total_max"] = "99"
    d["sections"][0]["items"][0]["max"] = "30"
    d["sections"][0]["items"][0]["rules"][0]["amount"] = "-1"
    d["sections"][0]["items"][0]["rules"][1]["kind"] = "bonus_magic"
    d["sections"][0]["items"][1]["rules"][0].pop("amount")
    d["sections"][0]["items"][2]["code"] = "1.1"
    d["sections"][1]["code"] = "1"
    d["sections"][1]["items"][0]["bonus_cap"] = "0.125"
    d["sections"][1]["items"][0]["colour"] = "red"
    assert errors_of(rubric_from_dict, d) == [
        "version: must be at least 1",
        "sections[0].items[0].max: item max 30 exceeds the section max 25",
        "sections[0].items[0].rules[0].amount: must not be negative (got -1)",
        (
            "sections[0].items[0].rules[1].kind: unknown rule kind 'bonus_magic' "
            "(expected one of deduct_per_missing, deduct_per_occurrence, deduct_fixed, "
            "deduct_discretionary, deduct_per_percent, bonus_by_level, "
            "bonus_per_occurrence, no_points, disqualify)"
        ),
        "sections[0].items[1].rules[0].amount: missing",
        "sections[0].items[2].code: duplicate item code '1.1'",
        "sections[1].code: duplicate section code '1'",
        "sections[1].items[0].colour: unknown key",
        "sections[1].items[0].bonus_cap: has more than 2 decimals (got 0.125)",
        "total_max: must equal the sum of the section maxima (100), got 99",
    ]


def test_section_max_need_not_equal_the_sum_of_its_items():
    d = base()
    d["sections"][0]["max"] = "24"  # items sum to 25: allowed (the section caps them)
    d["total_max"] = "99"
    spec = rubric_from_dict(d)
    assert spec.sections[0].max == D(24)


def test_catalogue_components_targets_validation():
    d = rubric_to_dict(fixture("city_organ_2013"))
    d["deduction_catalogue"][1]["code"] = "D01"
    d["deduction_catalogue"][2]["per"] = "件"
    d["deduction_catalogue"][3]["amount"] = 0.5  # a binary float from Python code
    d["components"][0]["weight"] = "90"
    d["special_bonus_levels"]["国家级"] = "abc"
    d["activity_targets"] = [{"code": "A", "name": "党委会", "target": -1}]
    assert errors_of(rubric_from_dict, d) == [
        "special_bonus_levels.国家级: 'abc' is not a decimal number",
        "deduction_catalogue[1].code: duplicate deduction code 'D01'",
        "deduction_catalogue[2].per: must be one of 起 次, got '件'",
        "deduction_catalogue[3].amount: binary floats are not accepted; write the number as text",
        "components[0]: give exactly one of max (points) or weight (percent)",
        "components: all components must use max, or all must use weight",
        "activity_targets[0].target: must be at least 0",
    ]
    d = rubric_to_dict(fixture("luoyang_2013"))
    d["components"][1]["weight"] = "20"
    assert errors_of(rubric_from_dict, d) == ["components: weights sum to 90, expected 100"]


def test_rule_fields_per_kind():
    d = base()
    rules = d["sections"][0]["items"][0]["rules"]
    rules[:] = [
        {"kind": "deduct_per_percent", "text": "x", "threshold": "90", "amount": "1"},
        {"kind": "no_points", "text": "x"},
        {"kind": "bonus_by_level", "text": "x", "levels": {}},
        {"kind": "deduct_fixed", "text": "", "amount": "1", "levels": {"a": 1}},
        {
            "kind": "deduct_per_percent",
            "text": "x",
            "threshold": 90,
            "step": 0,
            "amount": 1,
        },
        "deduct_fixed",
    ]
    p = "sections[0].items[0].rules"
    assert errors_of(rubric_from_dict, d) == [
        f"{p}[0].step: missing",
        f"{p}[1].condition: missing",
        f"{p}[2].levels: must not be empty",
        f"{p}[3].levels: unknown key",
        f"{p}[3].text: must not be empty",
        f"{p}[4].step: must be greater than 0",
        f"{p}[5]: expected a mapping, got string",
    ]


def test_yaml_numbers_are_exact_and_errors_have_lines():
    text = """
code: t
title: 测试
version: 1
total_max: 0.3
sections:
  - code: S
    title: 一
    max: 0.3
    items:
      - {code: a, content: 甲, max: 0.1}
      - {code: b, content: 乙, max: 0.2}
"""
    spec = load_rubric_yaml(text)
    assert [i.max for i in spec.items] == [
        D("0.1"),
        D("0.2"),
    ]  # 0.1 + 0.2 == 0.3 exactly
    assert errors_of(load_rubric_yaml, "code: x\ncode: y\n") == ["line 2, column 1: invalid YAML: duplicate key 'code'"]
    assert errors_of(load_rubric_yaml, "a: [1, 2\n")[0].startswith("line 2, column 1: invalid YAML")
    assert errors_of(load_rubric_yaml, "- 1\n") == ["rubric: expected a mapping, got list"]
    assert errors_of(load_rubric_yaml, text.replace("max: 0.1", "max: .inf")) == [
        "line 11, column 36: invalid YAML: '.inf' is not a decimal number"
    ]


def test_json_loader():
    spec = fixture("wuxing_2016")
    text = dump_rubric_json(spec)
    assert '"max": "25"' in text
    assert load_rubric_json(text.replace('"max": "25"', '"max": 25')) == spec
    assert errors_of(load_rubric_json, '{"code": 1,') == [
        "line 1, column 12: invalid JSON: Expecting property name enclosed in double quotes"
    ]
    assert errors_of(load_rubric_json, '{"code": "a", "code": "b"}') == ["invalid JSON: duplicate key 'code'"]


def test_yaml_dump_writes_plain_numbers_and_chinese():
    text = dump_rubric_yaml(fixture("wuxing_2016"))
    assert "total_max: 100\n" in text
    assert "amount: 0.5\n" in text
    assert "组织领导" in text


# ---------------------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------------------


def edited_workbook(spec, edit) -> io.BytesIO:
    wb = load_workbook(io.BytesIO(rubric_to_xlsx(spec)))
    edit(wb)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def test_xlsx_layout():
    wb = load_workbook(io.BytesIO(rubric_to_xlsx(fixture("city_organ_2013"))))
    assert wb.sheetnames == [
        "rubric",
        "items",
        "special_bonus_levels",
        "deduction_catalogue",
        "components",
        "reconstructed",
    ]
    items = wb["items"]
    assert [c.value for c in items[1]] == [
        "section_code",
        "section_title",
        "section_max",
        "item_code",
        "content",
        "item_max",
        "bonus_cap",
        "evidence_required",
        "veto",
        "rules_json",
    ]
    assert [c.value for c in items[2]][:6] == [
        "1",
        "素质提升——学习型",
        10,
        "1.1",
        "落实领导责任制，做到有研究、有部署、有督查。",
        2,
    ]
    catalogue = wb["deduction_catalogue"]
    assert [c.value for c in catalogue[4]][:4] == [
        "D03",
        "绿化环卫工作未完成任务被通报批评",
        0.2,
        "起",
    ]


def test_xlsx_errors_name_sheet_row_and_column():
    spec = fixture("wuxing_2016")

    def edit(wb):
        ws = wb["items"]
        ws["F3"] = -1  # item 1.2 max
        ws["J4"] = '[{"kind": "deduct_fixed", "text": "x", "amount": "1.234"}]'
        ws["G5"] = 0.333
        wb["rubric"]["B6"] = 99  # total_max

    assert errors_of(load_rubric_xlsx, edited_workbook(spec, edit)) == [
        "items: row 3, column F (item_max): must not be negative (got -1)",
        "items: row 4, column J (rules_json): [0].amount: has more than 2 decimals (got 1.234)",
        "items: row 5, column G (bonus_cap): has more than 2 decimals (got 0.333)",
        "rubric: row 6, column B (value): must equal the sum of the section maxima (100), got 99",
    ]


def test_xlsx_cell_level_errors():
    spec = fixture("wuxing_2016")

    def edit(wb):
        ws = wb["items"]
        ws["H2"] = "maybe"
        ws["J5"] = "[oops"
        ws["A8"] = "1"  # section 1 again after section 2 started on row 7
        ws["C3"] = 30  # differs from the first row of section 1
        wb["rubric"].append(["colour", "red"])

    assert errors_of(load_rubric_xlsx, edited_workbook(spec, edit)) == [
        "rubric: row 7, column A (key): unknown key 'colour'",
        "items: row 2, column H (evidence_required): expected TRUE/FALSE, got 'maybe'",
        "items: row 3, column C (section_max): differs from the first row of section '1' (25)",
        "items: row 5, column J (rules_json): invalid JSON: Expecting value: line 1 column 2 (char 1)",
        (
            "items: row 8, column A (section_code): section '1' appears again after "
            "other sections; keep its rows together"
        ),
        (
            "items: row 9, column A (section_code): section '2' appears again after "
            "other sections; keep its rows together"
        ),
    ]


def test_xlsx_missing_sheets_and_columns():
    wb = Workbook()
    wb.active.title = "rubric"
    wb.create_sheet("notes")
    out = io.BytesIO()
    wb.save(out)
    assert errors_of(load_rubric_xlsx, io.BytesIO(out.getvalue())) == [
        "missing sheet 'items'",
        "unknown sheet 'notes'",
    ]

    def drop_column(wb):
        wb["items"].delete_cols(6)  # item_max

    # structural problems (sheets, columns, cells) are reported before field validation
    assert errors_of(load_rubric_xlsx, edited_workbook(fixture("wuxing_2016"), drop_column)) == [
        "items: row 1: missing column 'item_max'"
    ]
    assert errors_of(load_rubric_xlsx, io.BytesIO(b"not a zip")) == [
        "not a readable .xlsx workbook: File is not a zip file"
    ]


def test_hand_written_workbook_with_blank_section_cells_and_numeric_codes():
    wb = Workbook()
    meta = wb.active
    meta.title = "rubric"
    for row in (
        ["key", "value"],
        ["code", "demo"],
        ["title", "示例细则"],
        ["version", 1],
        ["total_max", 10],
    ):
        meta.append(row)
    items = wb.create_sheet("items")
    items.append(
        [
            "section_code",
            "section_title",
            "section_max",
            "item_code",
            "content",
            "item_max",
            "evidence_required",
        ]
    )
    items.append([1, "组织领导", 10, 1.1, "有领导小组", 4.5, "是"])
    items.append([None, None, None, 1.2, "有实施方案", 5.5, None])
    items.append([])  # blank rows are skipped
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    spec = load_rubric_xlsx(out)
    assert [(i.code, i.max, i.evidence_required) for i in spec.items] == [
        ("1.1", D("4.5"), True),
        ("1.2", D("5.5"), False),
    ]
    assert spec.sections[0].code == "1"
    assert spec.sections[0].title == "组织领导"
