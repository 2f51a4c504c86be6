"""An uploaded rubric file, read by its extension (.yaml/.yml, .json, .xlsx), within the import bounds:
text files by size (a YAML parser is slow, ~1 MB/s), workbooks by cases.workbooks' rows, cells and seconds."""

from __future__ import annotations

from io import BytesIO

from django.conf import settings

from cases.rubrics.document import RubricError, RubricSpec
from cases.rubrics.excel import load_rubric_xlsx
from cases.rubrics.text import load_rubric_json, load_rubric_yaml
from cases.uploads import content_problems


def load_upload(name: str, content: bytes) -> RubricSpec:
    """Load an uploaded rubric file by its extension (.yaml/.yml, .json, .xlsx)."""
    lowered = name.lower()
    if not lowered.endswith((".yaml", ".yml", ".json", ".xlsx")):
        raise RubricError([f"file: unsupported type {name!r} (use .yaml, .json or .xlsx)"])
    if lowered.endswith(".xlsx"):
        problems = content_problems(name, BytesIO(content))
        if problems:
            raise RubricError([f"file: {p}" for p in problems])
        return load_rubric_xlsx(BytesIO(content))
    limit = int(settings.IMPORT_MAX_TEXT_BYTES)
    if len(content) > limit:
        raise RubricError([f"file: {len(content)} bytes, more than the {limit} a rubric text file may have"])
    if b"\x00" in content:
        raise RubricError(["file: not UTF-8 text"])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RubricError(["file: not UTF-8 text"]) from None
    if lowered.endswith(".json"):
        return load_rubric_json(text)
    return load_rubric_yaml(text)
