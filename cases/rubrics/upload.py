"""An uploaded rubric file, read by its extension (.yaml/.yml, .json, .xlsx)."""

from __future__ import annotations

from io import BytesIO

from cases.rubrics.document import RubricError, RubricSpec
from cases.rubrics.excel import load_rubric_xlsx
from cases.rubrics.text import load_rubric_json, load_rubric_yaml


def load_upload(name: str, content: bytes) -> RubricSpec:
    """Load an uploaded rubric file by its extension (.yaml/.yml, .json, .xlsx)."""
    lowered = name.lower()
    try:
        if lowered.endswith((".yaml", ".yml")):
            return load_rubric_yaml(content.decode("utf-8"))
        if lowered.endswith(".json"):
            return load_rubric_json(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise RubricError(["file: not UTF-8 text"]) from None
    if lowered.endswith(".xlsx"):
        return load_rubric_xlsx(BytesIO(content))
    raise RubricError([f"file: unsupported type {name!r} (use .yaml, .json or .xlsx)"])
