"""Reading rendered PDFs back for layout tests: poppler's tools and pdfplumber, nothing mocked.

pdfplumber (pdfminer) can silently drop every character of a font it cannot read, so `checked_chars`
compares its character count with pdftotext's before any geometry is trusted.
"""

import io
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pdfplumber

MM = 72 / 25.4
PAGE_WIDTH, PAGE_HEIGHT = 210 * MM, 297 * MM
# The type area (版心): x from 28 mm, y from 37 mm (pdfplumber's top-down coordinates), 156 × 225 mm.
LEFT, TOP = 28 * MM, 37 * MM
RIGHT, BOTTOM = LEFT + 156 * MM, TOP + 225 * MM
PITCH = 156 * MM / 28


def pdftotext(pdf: bytes) -> list[str]:
    """Text per page, as poppler extracts it (what a reader's copy and paste gets)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    pages = out.decode().split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdffonts(pdf: bytes) -> list[dict[str, str]]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        out = subprocess.run(["pdffonts", f.name], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        parts = line.split()
        # name, type words…, encoding, emb, sub, uni, object, generation
        rows.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return rows


@dataclass
class Line:
    baseline: float
    chars: list[dict]

    @property
    def text(self) -> str:
        return "".join(c["text"] for c in self.chars)

    @property
    def x0(self) -> float:
        return self.chars[0]["x0"]

    @property
    def x1(self) -> float:
        return self.chars[-1]["x1"]

    @property
    def size(self) -> float:
        return round(max(c["size"] for c in self.chars), 1)


@dataclass
class Page:
    number: int  # 1-based
    chars: list[dict]
    rects: list[dict]
    lines_: list[dict]
    images: list[dict]
    text: str  # pdftotext's

    def lines(self) -> list[Line]:
        """Characters grouped by baseline (the text matrix's y), left to right."""
        rows: dict[float, list[dict]] = {}
        for c in sorted(self.chars, key=baseline):
            key = next((k for k in rows if abs(k - baseline(c)) < 0.5), baseline(c))
            rows.setdefault(key, []).append(c)
        return [Line(k, sorted(v, key=lambda c: c["x0"])) for k, v in sorted(rows.items())]

    def body_lines(self) -> list[Line]:
        """16 pt lines inside the type area (not the page number, the 版记 or tables)."""
        return [line for line in self.lines() if line.size == 16.0 and line.baseline < BOTTOM]

    def page_number(self) -> Line | None:
        below = [line for line in self.lines() if line.baseline > BOTTOM]
        return below[0] if below else None


def baseline(char: dict) -> float:
    """A character's baseline from the page's top (pdfplumber's top/bottom depend on the font's descriptor)."""
    return PAGE_HEIGHT - char["matrix"][5]


def read(pdf: bytes) -> list[Page]:
    texts = pdftotext(pdf)
    pages = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages, 1):
            chars = [c for c in page.chars if c["text"].strip()]
            text = texts[number - 1] if number <= len(texts) else ""
            pages.append(Page(number, chars, list(page.rects), list(page.lines), list(page.images), text))
    return pages


def checked(pdf: bytes) -> list[Page]:
    """`read`, after checking that pdfplumber sees every character pdftotext sees, page by page."""
    pages = read(pdf)
    for page in pages:
        seen = sum(1 for ch in page.text if not ch.isspace())
        read_ = sum(len(c["text"]) for c in page.chars)  # a ligature (—— is one glyph) is one char of two
        assert read_ == seen, f"page {page.number}: pdfplumber read {read_} characters, pdftotext {seen}"
    return pages


def is_red(color: object) -> bool:
    if not isinstance(color, (tuple, list)) or len(color) != 3:
        return False
    r, g, b = (float(x) for x in color)
    return r > 0.8 and g < 0.15 and b < 0.2


def to_png(pdf: bytes, directory: Path, stem: str, resolution: int = 50) -> list[Path]:
    """Every page as a PNG (pdftoppm), named <stem>-<page>.png."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{stem}-*.png"):
        old.unlink()
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        subprocess.run(["pdftoppm", "-r", str(resolution), "-png", f.name, str(directory / stem)], check=True)
    found = sorted(directory.glob(f"{stem}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    # pdftoppm pads page numbers by the page count's width; name them plainly.
    out = []
    for path in found:
        plain = directory / f"{stem}-{int(path.stem.rsplit('-', 1)[1])}.png"
        path.rename(plain)
        out.append(plain)
    return out


def difference(a: Path, b: Path) -> tuple[float, float]:
    """(mean absolute difference of grey values 0–255, fraction of pixels differing by more than 64)."""
    from PIL import Image, ImageChops, ImageStat

    first, second = Image.open(a).convert("L"), Image.open(b).convert("L")
    if first.size != second.size:
        return 255.0, 1.0
    diff = ImageChops.difference(first, second)
    mean = ImageStat.Stat(diff).mean[0]
    histogram = diff.histogram()
    changed = sum(histogram[65:]) / (first.size[0] * first.size[1])
    return mean, changed
