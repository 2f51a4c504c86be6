"""`manage.py compute_results`: output on stdout, exit 2 with path-named messages on stderr.

No database access: the command is pure computation.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.cases.test_scoring_io import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    kwargs = {"stdout": out, "stderr": err}
    if stdin is not None:
        kwargs["stdin"] = io.StringIO(stdin)
    try:
        call_command("compute_results", *args, **kwargs)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_file_input_prints_the_result_document(tmp_path):
    path = tmp_path / "input.json"
    path.write_text(json.dumps(EXAMPLE, ensure_ascii=False), encoding="utf-8")
    code, out, err = run(str(path))
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert [(u["code"], u["total"], u["rank"], u["grade"]) for u in doc["units"]] == [
        ("U01", "34.13", 1, "优秀"),
        ("U02", "33.50", 2, "达标"),
        ("U03", "35.00", 3, "不达标"),
    ]
    assert "政府工作部门" in out  # ensure_ascii=False
    assert out.startswith('{\n  "units": [\n')  # indent=2


def test_stdin_input():
    code, out, err = run("-", stdin=json.dumps(EXAMPLE))
    assert (code, err) == (0, "")
    assert json.loads(out)["units"][0]["panel"] == "34.13"


def test_invalid_input_exits_2_with_one_message_per_line(tmp_path):
    doc = json.loads(json.dumps(EXAMPLE))
    doc["units"].append({"code": "U04", "sheets": [{"expert": "E1", "items": {"S9.9": {}}}]})
    doc["config"]["aggregation"] = "mode"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(str(path))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        ("config.aggregation: unknown aggregation 'mode' (expected one of mean, trimmed_mean, median)"),
        "units[3].sheets[0].items.S9.9: unknown item",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{bad", "input: invalid JSON at line 1 column 2: "),
        ("", "input: invalid JSON at line 1 column 1: Expecting value"),
        ("[]", "input: expected an object, got array"),
    ],
)
def test_invalid_json_exits_2(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content, encoding="utf-8")
    code, _, err = run(str(path))
    assert code == 2
    assert err.startswith(message)


def test_unreadable_inputs_exit_2(tmp_path):
    code, _, err = run(str(tmp_path / "missing.json"))
    assert (code, err.strip()) == (
        2,
        f"input: file not found: {tmp_path / 'missing.json'}",
    )
    code, _, err = run(str(tmp_path))
    assert (code, err.strip()) == (2, f"input: is a directory: {tmp_path}")
    binary = tmp_path / "latin1.json"
    binary.write_bytes(b'{"a": "\xff"}')
    code, _, err = run(str(binary))
    assert code == 2
    assert err.startswith(f"input: {binary} is not valid UTF-8")


def test_manage_py_exit_status_and_no_traceback(tmp_path):
    """The real CLI: exit status 2, messages only, never a traceback."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"rubric": {}, "config": {}, "units": []}', encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, "manage.py", "compute_results", str(bad)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == ["rubric.sections: missing"]
    assert proc.stdout == ""

    good = tmp_path / "good.json"
    good.write_text(json.dumps(EXAMPLE), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "manage.py", "compute_results", "-"],
        cwd=ROOT,
        check=False,
        input=good.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["units"][1]["total"] == "33.50"
