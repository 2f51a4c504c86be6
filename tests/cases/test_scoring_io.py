"""Exchange format v1: parsing, validation messages and the computed document. Pure."""

import copy
import json
from decimal import Decimal

import pytest

from cases.scoring.exchange import (
    ScoringInputError,
    compute_exchange,
    exchange_to_dict,
    load_exchange_text,
    parse_exchange,
)

EXAMPLE = {
    "version": 1,
    "rubric": {
        "sections": [
            {
                "code": "S1",
                "max": "25",
                "items": [
                    {"code": "S1.1", "max": "5", "bonus_cap": "5"},
                    {"code": "S1.2", "max": "20"},
                ],
            },
            {"code": "S2", "max": "10", "items": [{"code": "S2.1", "max": "10"}]},
        ],
        "special_bonus_cap": "5",
    },
    "config": {
        "aggregation": "mean",
        "trim_min_sheets": 5,
        "grades": {
            "scheme": "distribution",
            "bands": [["优秀", "25"], ["良好", "35"], ["达标", "34"], ["不达标", "6"]],
        },
    },
    "units": [
        {
            "code": "U01",
            "category": "政府工作部门",
            "veto": False,
            "previous_rank": 4,
            "sheets": [
                {
                    "expert": "E1",
                    "items": {"S1.1": {"deductions": ["1", "0.5"], "bonus": ["2"]}},
                },
                {"expert": "E2", "items": {"S2.1": {"deductions": ["2.25"]}}},
            ],
            "incidents": [{"kind": "通报批评", "amount": "3", "count": 1}],
            "special_bonus": ["2", "1"],
        },
        {
            "code": "U02",
            "category": "政府工作部门",
            "sheets": [{"expert": "E1"}, {"expert": "E2", "items": {}}],
            "incidents": [{"kind": "缺勤", "amount": "0.5", "count": 3}],
        },
        {
            "code": "U03",
            "category": "政府工作部门",
            "veto": True,
            "sheets": [{"expert": "E1"}],
        },
    ],
}


def errors_of(doc) -> list[str]:
    with pytest.raises(ScoringInputError) as info:
        parse_exchange(doc)
    return info.value.messages


def test_example_document_is_computed_exactly():
    # U01: E1 = S1 min(3.5 + 20, 25) + S2 10 + bonus 2 = 35.5; E2 = 25 + 7.75 = 32.75
    #      panel (35.5 + 32.75) / 2 = 34.125 → 34.13; − 3 + min(3, 5) = 34.13
    # U02: both sheets 35 → 35; − 0.5 × 3 = 33.50
    # U03: veto, 35
    # M = 2 non-veto: C = [round(0.5) = 1, round(1.2) = 1, round(1.88) = 2, 2]
    assert compute_exchange(EXAMPLE) == {
        "units": [
            {
                "code": "U01",
                "category": "政府工作部门",
                "panel": "34.13",
                "deductions": "3.00",
                "bonus": "3.00",
                "total": "34.13",
                "rank": 1,
                "grade": "优秀",
                "movement": 3,
                "veto": False,
            },
            {
                "code": "U02",
                "category": "政府工作部门",
                "panel": "35.00",
                "deductions": "1.50",
                "bonus": "0.00",
                "total": "33.50",
                "rank": 2,
                "grade": "达标",
                "movement": None,
                "veto": False,
            },
            {
                "code": "U03",
                "category": "政府工作部门",
                "panel": "35.00",
                "deductions": "0.00",
                "bonus": "0.00",
                "total": "35.00",
                "rank": 3,
                "grade": "不达标",
                "movement": None,
                "veto": True,
            },
        ]
    }


def test_defaults_version_optional_no_grades_item_level():
    doc = copy.deepcopy(EXAMPLE)
    del doc["version"]
    doc["config"] = {"aggregation_level": "item"}
    result = compute_exchange(doc)
    assert [u["grade"] for u in result["units"]] == [None, None, None]
    parsed = parse_exchange(doc)
    assert parsed.config.aggregation == "mean"
    assert parsed.config.trim_min_sheets == 5
    assert parsed.config.aggregation_level == "item"


def test_exchange_to_dict_roundtrip():
    parsed = parse_exchange(EXAMPLE)
    again = parse_exchange(json.loads(json.dumps(exchange_to_dict(parsed))))
    assert again == parsed
    assert compute_exchange(exchange_to_dict(parsed)) == compute_exchange(EXAMPLE)


def test_unknown_item_is_reported_with_its_path():
    doc = copy.deepcopy(EXAMPLE)
    doc["units"].append(
        {
            "code": "U04",
            "sheets": [{"expert": "E1", "items": {"S9.9": {"deductions": ["1"]}}}],
        }
    )
    assert errors_of(doc) == ["units[3].sheets[0].items.S9.9: unknown item"]


def test_all_errors_are_collected():
    doc = {
        "version": 2,
        "extra": True,
        "rubric": {
            "sections": [
                {"code": "S1", "max": "-3", "items": [{"code": "a", "max": 5}]},
                {"code": "S1", "max": "10", "items": [{"code": "a", "max": "11"}]},
            ]
        },
        "config": {
            "aggregation": "avg",
            "trim_min_sheets": 2,
            "grades": {
                "scheme": "distribution",
                "bands": [["A", "50"], ["B", "49.999"]],
            },
        },
        "units": [
            {
                "sheets": [
                    {"expert": "E1", "items": {"S9": {}, "a": {"deductions": [1.5]}}},
                    {"expert": "E1"},
                ],
                "incidents": [{"kind": "x", "amount": "1", "count": -1}],
            },
            {"code": "U", "sheets": []},
            {"code": "U", "sheets": [{"expert": "E"}], "special_bonus": ["1e2"]},
        ],
    }
    assert errors_of(doc) == [
        "extra: unknown key",
        "version: unsupported version 2 (expected 1)",
        "rubric.sections[0].max: must not be negative (got -3)",
        'rubric.sections[0].items[0].max: expected a decimal string such as "2.5", got number',
        "rubric.sections[1].code: duplicate section code 'S1'",
        "rubric.sections[1].items[0].code: duplicate item code 'a'",
        "rubric.sections[1].items[0].max: item max 11 exceeds the section max 10",
        "config.aggregation: unknown aggregation 'avg' (expected one of mean, trimmed_mean, median)",
        "config.trim_min_sheets: must be at least 3",
        "config.grades.bands[1][1]: has more than 2 decimals (got 49.999)",
        "units[0].code: missing",
        "units[0].sheets[0].items.S9: unknown item",
        'units[0].sheets[0].items.a.deductions[0]: expected a decimal string such as "2.5", got number',
        "units[0].sheets[1].expert: duplicate expert 'E1' in this unit",
        "units[0].incidents[0].count: must be at least 0",
        "units[1].sheets: at least one sheet is required",
        "units[2].code: duplicate unit code 'U'",
        "units[2].special_bonus[0]: '1e2' is not a decimal string (expected e.g. \"2.5\")",
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("1.005", "has more than 2 decimals (got 1.005)"),
        ("-1", "must not be negative (got -1)"),
        ("1e3", "'1e3' is not a decimal string"),
        (" 1", "' 1' is not a decimal string"),
        ("1.", "'1.' is not a decimal string"),
        (".5", "'.5' is not a decimal string"),
        ("+1", "'+1' is not a decimal string"),
        ("NaN", "'NaN' is not a decimal string"),
        ("１", "'１' is not a decimal string"),  # full-width digit
        ("1234567890123", "is too large (at most 12 integer digits)"),
        (2, 'expected a decimal string such as "2.5", got number'),
        (None, 'expected a decimal string such as "2.5", got null'),
        (True, 'expected a decimal string such as "2.5", got boolean'),
    ],
)
def test_decimal_strings(value, message):
    doc = copy.deepcopy(EXAMPLE)
    doc["units"][0]["special_bonus"] = [value]
    [error] = errors_of(doc)
    assert error.startswith("units[0].special_bonus[0]: ")
    assert message in error


@pytest.mark.parametrize("value", ["0", "0.5", "12.25", "007", "-0", "999999999999.99"])
def test_valid_decimal_strings(value):
    doc = copy.deepcopy(EXAMPLE)
    doc["units"][0]["special_bonus"] = [value]
    assert parse_exchange(doc).units[0].special_bonus == (Decimal(value),)


def test_grade_band_rules():
    doc = copy.deepcopy(EXAMPLE)
    doc["config"]["grades"]["bands"] = [["优秀", "25"], ["良好", "35"], ["达标", "34"]]
    assert errors_of(doc) == ["config.grades.bands: percentages sum to 94, expected 100"]

    doc["config"]["grades"] = {
        "scheme": "thresholds",
        "bands": [["优秀", "90"], ["良好", "90"], ["达标", "95"], ["不达标", "0"]],
    }
    assert errors_of(doc) == [
        "config.grades.bands[1][1]: thresholds must be strictly descending (90 is not below 90)",
        "config.grades.bands[2][1]: thresholds must be strictly descending (95 is not below 90)",
    ]

    doc["config"]["grades"] = {
        "scheme": "curve",
        "bands": [["A", "x"], ["A", "1"], "B"],
    }
    assert errors_of(doc) == [
        "config.grades.scheme: unknown scheme 'curve' (expected one of distribution, thresholds)",
        "config.grades.bands[0][1]: 'x' is not a decimal string (expected e.g. \"2.5\")",
        "config.grades.bands[1][0]: duplicate band name 'A'",
        'config.grades.bands[2]: expected a pair ["name", "value"]',
    ]


def test_thresholds_are_accepted_when_descending():
    doc = copy.deepcopy(EXAMPLE)
    doc["config"]["grades"] = {
        "scheme": "thresholds",
        "bands": [["优秀", "35"], ["良好", "34"], ["达标", "30"], ["不达标", "0"]],
    }
    assert [u["grade"] for u in compute_exchange(doc)["units"]] == [
        "良好",
        "达标",
        "不达标",
    ]


def test_types_and_missing_keys():
    assert errors_of([]) == ["input: expected an object, got array"]
    assert errors_of({}) == ["rubric: missing", "config: missing", "units: missing"]
    doc = copy.deepcopy(EXAMPLE)
    doc["rubric"]["sections"][0]["items"][0] = {"code": "", "maximum": "5"}
    doc["units"][0]["veto"] = "no"
    doc["units"][0]["previous_rank"] = 0
    doc["units"][0]["category"] = 3
    doc["units"][1]["sheets"][0]["items"] = []
    doc["units"][1]["incidents"][0] = {"amount": "1"}
    doc["version"] = "1"
    assert errors_of(doc) == [
        "version: unsupported version '1' (expected 1)",
        "rubric.sections[0].items[0].max: missing",
        "rubric.sections[0].items[0].maximum: unknown key",
        "rubric.sections[0].items[0].code: must not be empty",
        "units[0].category: expected a string, got number",
        "units[0].veto: expected true or false, got string",
        "units[0].previous_rank: must be at least 1",
        # S1.1 is no longer in the rubric (its code is now ""), so the sheet refers to it
        "units[0].sheets[0].items.S1.1: unknown item",
        "units[1].sheets[0].items: expected an object, got array",
        "units[1].incidents[0].kind: missing",
    ]


def test_empty_rubric_and_sections_are_rejected():
    doc = copy.deepcopy(EXAMPLE)
    doc["rubric"]["sections"][1]["items"] = []
    assert errors_of(doc) == [
        "rubric.sections[1].items: must not be empty",
        "units[0].sheets[1].items.S2.1: unknown item",
    ]
    doc["rubric"]["sections"] = []
    # the units' item codes cannot all be checked without sections: they are unknown
    messages = errors_of(doc)
    assert messages[0] == "rubric.sections: must not be empty"
    assert "units[0].sheets[0].items.S1.1: unknown item" in messages


def test_empty_units_give_an_empty_result():
    doc = copy.deepcopy(EXAMPLE)
    doc["units"] = []
    assert compute_exchange(doc) == {"units": []}


def test_load_exchange_text():
    assert load_exchange_text('{"a": 1.5}') == {"a": Decimal("1.5")}
    with pytest.raises(ScoringInputError) as info:
        load_exchange_text('{"a": ')
    assert info.value.messages == ["input: invalid JSON at line 1 column 7: Expecting value"]


def test_scoring_input_error_str_lists_messages():
    error = ScoringInputError(["a: x", "b: y"])
    assert str(error) == "a: x\nb: y"
    assert error.messages == ["a: x", "b: y"]
