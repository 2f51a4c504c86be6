"""Bounded uploads: a request body is refused at the limit while it streams in, and a stored file's
content must be what its extension says.

- :class:`LimitedUploadHandler` is the first of ``FILE_UPLOAD_HANDLERS``: it refuses a multipart body
  whose Content-Length is already too large before a byte is read, and stops the parse as soon as the
  files of one request pass ``UPLOAD_MAX_BYTES``, before the handlers behind it (memory, temporary
  file) see the chunk that crossed the line. It raises :class:`UploadTooLarge`, a
  ``RequestDataTooBig``: Django's own views answer it with their 400, the API with a JSON 413
  (``cases/api/uploads.py``).
- :func:`content_problems` checks a file's first bytes (and for the zip-based Office formats the
  archive's members) against its extension; :func:`content_type` is the type a checked file is
  served with.

Why a short table rather than a library: ``filetype`` (pure Python) reads only the first 8 KiB, so it
recognises a .docx/.xlsx only when ``word/``/``xl/`` happens to be among the first zip members, and
it would still need a text check of our own; the stdlib's ``zipfile`` looks at the real member list.
"""

from __future__ import annotations

import zipfile
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

# Room in a request for the multipart boundaries, part headers and the small form fields that travel
# with a file (case, purpose, items); Django bounds the fields themselves by DATA_UPLOAD_MAX_MEMORY_SIZE.
FORM_OVERHEAD_BYTES = 64 * 1024


def request_max_bytes() -> int:
    """The largest body an upload request may declare (the reverse proxy's limit should sit just above)."""
    return int(settings.UPLOAD_MAX_BYTES) + FORM_OVERHEAD_BYTES


def mebibytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


class UploadTooLarge(RequestDataTooBig):
    """A request body or its files passed ``UPLOAD_MAX_BYTES``; nothing of it is kept."""

    def __init__(self) -> None:
        super().__init__(f"上传内容超过 {mebibytes(int(settings.UPLOAD_MAX_BYTES))} 上限。")


def content_length_too_large(meta: dict[str, Any]) -> bool:
    """Whether a request declares a body larger than an upload may be (a bad header counts as none)."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return False
    return declared > request_max_bytes()


class LimitedUploadHandler(FileUploadHandler):
    """Counts the file bytes of one multipart request and stops the parse at ``UPLOAD_MAX_BYTES``.

    Django calls the handlers in order with each chunk; raising here means the memory and
    temporary-file handlers behind this one never receive the chunk that crossed the limit, so at
    most ``UPLOAD_MAX_BYTES`` reach the disk, and the temporary file is closed (deleted) at once.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, Any],  # noqa: N803 - Django's parameter name
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # The early refusal: nothing has been read yet, and nothing will be.
        if content_length > request_max_bytes():
            raise UploadTooLarge()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self._discard_partial_files()
            raise UploadTooLarge()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _discard_partial_files(self) -> None:
        # Django closes completed files when a parse fails, not the one being written; a
        # TemporaryUploadedFile deletes itself on close.
        for handler in getattr(self.request, "upload_handlers", ()):
            partial = getattr(handler, "file", None)
            if handler is not self and partial is not None:
                partial.close()


# --- content against extension ------------------------------------------------------------------

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound-file header of .doc and .xls alike
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "txt": "text/plain",
    "zip": "application/zip",
    "yaml": "application/yaml",
    "yml": "application/yaml",
    "json": "application/json",
}
_MAGIC = {
    "pdf": (b"%PDF-",),
    "doc": (OLE2,),
    "xls": (OLE2,),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
}
# The part every Office Open XML package of that kind has (ECMA-376 part 2).
_OOXML_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
_TEXT = ("txt", "yaml", "yml", "json")
# Text from Chinese offices is UTF-8 or, from older Windows tools, GB18030 (a superset of GBK).
_TEXT_ENCODINGS = ("utf-8-sig", "gb18030")


def extension(name: str) -> str:
    return PurePath(name).suffix.lower().lstrip(".")


def content_type(name: str) -> str:
    """The type a file is served with: that of its extension, which its content was checked against."""
    return CONTENT_TYPES.get(extension(name), "application/octet-stream")


def _zip_problems(ext: str, fileobj: IO[bytes]) -> list[str]:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return [f"文件内容不是 .{ext} 格式。"]
    part = _OOXML_PART.get(ext)
    if part is not None and not {"[Content_Types].xml", part} <= names:
        return [f"文件内容不是 .{ext} 格式。"]
    return []


def _text_problems(ext: str, data: bytes) -> list[str]:
    if b"\x00" in data:
        return [f"文件内容不是 .{ext} 文本。"]
    for encoding in _TEXT_ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return []
    return [f"文件内容不是 .{ext} 文本（应为 UTF-8 或 GB18030 编码）。"]


def content_problems(name: str, fileobj: IO[bytes]) -> list[str]:
    """What is wrong with a file's content for its extension (empty when it matches); the file is
    read from the start (at most what the upload limit let through) and rewound."""
    ext = extension(name)
    fileobj.seek(0)
    try:
        if ext in _MAGIC:
            return [] if fileobj.read(16).startswith(_MAGIC[ext]) else [f"文件内容不是 .{ext} 格式。"]
        if ext in ("docx", "xlsx", "zip"):
            return _zip_problems(ext, fileobj)
        if ext in _TEXT:
            return _text_problems(ext, fileobj.read())
        return [f"无法核验 .{ext} 文件的内容。"]
    finally:
        fileobj.seek(0)
