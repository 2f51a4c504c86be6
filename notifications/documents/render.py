"""HTML → PDF with WeasyPrint, in the worker only.

WeasyPrint is imported on the first render of a worker process (about a second) and kept; workers are
recycled (`--max-tasks-per-child`) because large documents can leave a lot of memory behind. Every
character must exist in one of the configured fonts: a missing glyph raises `MissingGlyph` naming the
characters before anything is drawn, and WeasyPrint's own `.notdef` warning raises too — an official
document never shows a box.
"""

import functools
import html
import logging
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings

logger = logging.getLogger(__name__)

ROLES = ("body", "title", "heading", "kai")


class RenderError(Exception):
    """A document could not be rendered; the message says why, in the office's language."""


class MissingGlyph(RenderError):
    pass


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int


def font_stacks() -> dict[str, list[str]]:
    """Font families per role, first choice first (settings.DOCUMENT_FONTS)."""
    return {role: list(settings.DOCUMENT_FONTS[role]) for role in ROLES}


def css_font_families() -> dict[str, str]:
    return {role: ", ".join(f'"{family}"' for family in stack) for role, stack in font_stacks().items()}


@functools.cache
def _installed_fonts() -> dict[str, list[tuple[str, int]]]:
    """Family name (every language's name fontconfig knows) → [(file, index in a collection)]."""
    out = subprocess.run(["fc-list", "--format", "%{family}\t%{file}\t%{index}\n"], capture_output=True, text=True,
                         check=False).stdout
    fonts: dict[str, list[tuple[str, int]]] = {}
    for line in out.splitlines():
        try:
            families, path, index = line.split("\t")
        except ValueError:
            continue
        for family in families.split(","):
            fonts.setdefault(family.strip().lower(), []).append((path, int(index or 0)))
    return fonts


@functools.cache
def _coverage(path: str, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap())


def configured_coverage() -> frozenset[int]:
    """Every code point some configured font has (fonts not installed on this machine are skipped)."""
    return _union_coverage(tuple(family for stack in font_stacks().values() for family in stack))


@functools.cache
def _union_coverage(families: tuple[str, ...]) -> frozenset[int]:
    # Once per process and font configuration: the union of ~60,000 code points takes ~7 ms to build.
    covered: set[int] = set()
    for family in families:
        for path, index in _installed_fonts().get(family.lower(), []):
            covered |= _coverage(path, index)
    return frozenset(covered)


_TAGS = re.compile(r"<style.*?</style>|<[^>]+>", re.S)


def missing_characters(document_html: str) -> list[str]:
    text = html.unescape(_TAGS.sub("", document_html))
    covered = configured_coverage()
    return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in covered})


class _NotdefWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if ".notdef" in message:
            self.messages.append(message)


@contextmanager
def _watch_notdef() -> Iterator[_NotdefWatch]:
    watch = _NotdefWatch()
    weasy_logger = logging.getLogger("weasyprint")
    weasy_logger.addHandler(watch)
    try:
        yield watch
    finally:
        weasy_logger.removeHandler(watch)


def _local_file(url: str) -> tuple[bytes, str]:
    """Documents may load files from the media folder (a seal image) and nothing else: no network."""
    parsed = urlparse(url)
    media = Path(settings.MEDIA_ROOT).resolve()
    path = Path(unquote(parsed.path)).resolve()
    if parsed.scheme != "file" or not path.is_relative_to(media):
        raise RenderError(f"文件中引用了不允许的地址：{url}")
    if not path.is_file():
        raise RenderError(f"文件中引用的图片不存在：{path.name}")
    return path.read_bytes(), "image/png" if path.suffix.lower() == ".png" else "application/octet-stream"


@functools.cache
def _fetcher_class() -> Any:
    """WeasyPrint 70 wants a URLFetcher (a plain function fails its assertion); with fail_on_errors a refused
    or missing file stops the render (FatalURLFetchingError) instead of a document without its seal."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

    class MediaFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            body, content_type = _local_file(url)
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})

    return MediaFetcher


@functools.cache
def _weasyprint() -> Any:
    import weasyprint  # once per worker process

    return weasyprint


# --- the 版记 on an even last page -----------------------------------------------------------------
# base.html draws the 版记 on a page of its own (named page "banji", no page number) that starts on a left,
# even page ("break-before: left" inserts a blank, unnumbered page when the text ends on an even page), with
# a "banji-end" marker where the text ends. When the text ends on an even page with room under it for the
# 版记 and a blank line, the 版记 belongs on that page: a second layout rewrites the wrapper to
# "banji-page inline" with a padding that pushes the 版记 to the bottom of the type area.

_BANJI_PAGE = 'class="banji-page"'
MIN_GAP = 28.95  # pt: at least one blank line between the text and a 版记 on the same page
PX = 0.75  # pt per CSS px (WeasyPrint's layout unit)


def _boxes_with_class(document: Any, name: str) -> Iterator[tuple[int, Any]]:
    for number, page in enumerate(document.pages):
        for box in page._page_box.descendants():
            element = getattr(box, "element", None)
            if element is not None and name in (element.get("class") or "").split() and box.element_tag == "div":
                yield number, box
                break


def banji_padding(document: Any) -> float | None:
    """The padding that moves the 版记 under the text on the text's last page, or None to keep it on its own
    page (the text ends on an odd page, or on an even page without room)."""
    ends = list(_boxes_with_class(document, "banji-end"))
    banji = list(_boxes_with_class(document, "banji"))
    if not ends or not banji:
        return None
    end_page, end = ends[-1]
    if end_page % 2 == 0:  # 0-based: the text ends on an odd page, the 版记 already has the next (even) one
        return None
    page_box = document.pages[end_page]._page_box
    bottom = page_box.content_box_y() + page_box.height
    room = (bottom - end.position_y - banji[-1][1].margin_height()) * PX - 1
    return room if room >= MIN_GAP else None


def _layout(document_html: str) -> Any:
    weasyprint = _weasyprint()
    from weasyprint.urls import FatalURLFetchingError  # type: ignore[import-untyped]

    fetcher = _fetcher_class()(fail_on_errors=True)
    try:
        return weasyprint.HTML(string=document_html, url_fetcher=fetcher).render()
    except FatalURLFetchingError as exc:
        cause = exc.__cause__
        raise RenderError(str(cause) if isinstance(cause, RenderError) else f"文件中的图片无法读取：{exc}") from exc


def _move_banji(document: Any, end_page: int) -> bool:
    """Put the 版记, laid out at the bottom of the type area of its own page, at the same place on the text's
    last page and drop the pages after it (the blank one and the 版记's own). The type area is the same on
    every page, so its position holds; this saves laying a long document out a second time."""
    banji = list(_boxes_with_class(document, "banji"))
    if not banji or len(document.pages) != end_page + 3:
        return False
    body = next((box for box in document.pages[end_page]._page_box.descendants()
                 if getattr(box, "element_tag", None) == "body"), None)
    if body is None:
        return False
    body.children = [*body.children, banji[-1][1]]
    del document.pages[end_page + 1:]
    return True


def render_pdf(document_html: str) -> Rendered:
    """The PDF of one document; raises RenderError (a missing glyph among them)."""
    missing = missing_characters(document_html)
    if missing:
        raise MissingGlyph("以下字符在配置的字体中不存在：" + "".join(missing[:20]))
    with _watch_notdef() as watch:
        document = _layout(document_html)
        if _BANJI_PAGE in document_html and banji_padding(document) is not None:
            _move_banji(document, list(_boxes_with_class(document, "banji-end"))[-1][0])
        pdf = document.write_pdf()
    if watch.messages:
        raise MissingGlyph("生成时出现缺字：" + watch.messages[0])
    return Rendered(pdf=pdf, pages=len(document.pages))
