"""GB/T 9704-2012 text layout done in Python: body lines justified to the 28 × 22 grid.

WeasyPrint (Pango) stretches only spaces when it justifies, and Chinese text has none, so a justified
paragraph would end ragged. Instead each paragraph is broken into lines here: the characters' advances
are read from the very fonts WeasyPrint will use (fontTools, the first configured family of the role that
has the character), lines are filled on the grid pitch (156 mm / 28), line breaks obey the 避头尾 rules
(no line starts with ，。、；：？！）》」』 …, none ends with （《「『“ …, ——/…… and short Latin/digit runs
are not split), and every line but a paragraph's last gets its own letter-spacing so that its last
character ends exactly on the right edge of the type area. The template draws each line as one
non-wrapping block; the PDF's text stays clean (letter-spacing is glyph positioning, no inserted spaces).

The same font metrics give the vertical offsets that put the first line's glyphs (their ideographic
em box) exactly 37 mm below the page's top edge, the issuing-organ mark 35 mm below that, and the page
number 7 mm under the type area.
"""

import functools
import subprocess
from dataclasses import dataclass, field
from typing import Any

from notifications.documents.render import font_stacks

MM = 72 / 25.4
TYPE_WIDTH = 156 * MM  # pt
TYPE_HEIGHT = 225 * MM
GRID_CHARS = 28
GRID_LINES = 22
BODY_SIZE = 16.0  # 3号
LINE_HEIGHT = 28.95  # 22 lines in 225 mm
PITCH = TYPE_WIDTH / GRID_CHARS  # a grid cell: 15.79 pt
SPACING = PITCH - BODY_SIZE  # letter-spacing that puts full-width characters on the grid
MAX_SQUEEZE = 1.3  # pt below SPACING a line may be squeezed (a closing mark pulled in)
MAX_STRETCH = 1.3  # pt above SPACING a line may be stretched (a character pushed out)
EM_TOP = 0.88  # the ideographic em box's top above the baseline, fraction of the size (when the font says nothing)

# 行首禁则 and 行尾禁则 (GB/T 15834: 点号 and the closing half of paired marks never start a line; the opening
# half never ends one), with their half-width Latin cousins.
NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉〗〙〛｝］’”…‥·•・％‰℃々〃ゝゞ,.;:?!)]}%")
NO_LINE_END = frozenset("（《「『【〔〈〖〘〚｛［‘“([{")
UNSPLIT_PAIRS = frozenset("—…")  # ——  …… are one mark of two cells
LIGATED_PAIRS = ("——",)
LATIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,-+/:%@_&")
LATIN_KEEP_WIDTH = 3 * PITCH  # Latin/digit runs up to this width are not split


@dataclass(frozen=True)
class Face:
    path: str
    index: int
    units_per_em: int
    ascent: float  # what Pango uses for the line box (hhea), fraction of the size
    descent: float  # positive
    em_top: float  # ideographic em box top above the baseline, fraction of the size
    advances: dict[int, float] = field(repr=False, hash=False, compare=False)  # code point → fraction of the size
    latin_advances: dict[int, float] = field(default_factory=dict, repr=False, hash=False, compare=False)  # in a Latin run
    ligatures: frozenset[str] = frozenset()  # pairs drawn as one glyph (Noto CJK's ——): one letter-spacing, not two

    def em_top_in_line(self, size: float, line_height: float) -> float:
        """Distance from the top of a line box to the glyphs' em-box top (CSS half-leading model)."""
        half_leading = (line_height - (self.ascent + self.descent) * size) / 2
        return half_leading + (self.ascent - self.em_top) * size


@functools.cache
def _face_file(family: str) -> tuple[str, int] | None:
    """The regular-weight file of an installed family (fc-list; weight 80 is Regular/Book)."""
    out = subprocess.run(["fc-list", f":family={family}", "--format", "%{file}\t%{index}\t%{weight}\n"],
                         capture_output=True, text=True, check=False).stdout
    found: list[tuple[float, str, int]] = []
    for line in out.splitlines():
        try:
            file, number, weight = line.split("\t")
            found.append((abs(float(weight.strip("[]").split()[0]) - 80), file, int(number or 0)))
        except (ValueError, IndexError):
            continue
    if not found:
        return None
    _, best_file, best_index = min(found)
    return best_file, best_index


@functools.cache
def _face(path: str, index: int) -> Face:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with TTFont(path, fontNumber=index, lazy=True) as font:
        upm = font["head"].unitsPerEm
        hhea = font["hhea"]
        os2 = font["OS/2"] if "OS/2" in font else None
        em_top = EM_TOP
        if os2 is not None and os2.sTypoAscender - os2.sTypoDescender == upm:
            em_top = os2.sTypoAscender / upm  # the typo box is the ideographic em box (Noto CJK: 880/-120)
        hmtx = font["hmtx"]
        cmap = font.getBestCmap()
        han = _simplified_chinese_forms(font, "hani")
        advances = {cp: hmtx[han.get(name, name)][0] / upm for cp, name in cmap.items()}
        latin = _simplified_chinese_forms(font, "latn")
        latin_advances = {cp: hmtx[latin.get(name, name)][0] / upm for cp, name in cmap.items() if cp < 0x3000}
        ligatures = frozenset(pair for pair in LIGATED_PAIRS if _ligated(font, cmap, pair))
        return Face(path=path, index=index, units_per_em=upm, ascent=hhea.ascent / upm,
                    descent=-hhea.descent / upm, em_top=em_top, advances=advances,
                    latin_advances=latin_advances, ligatures=ligatures)


def _han_lookups(font: Any, tags: tuple[str, ...], script_tag: str = "hani", language: str | None = "ZHS ") -> list[Any]:
    """The GSUB subtables (extension subtables unwrapped) of some features for a script (Han unless told)
    and a language (ZHS unless told; None: the script's default), as HarfBuzz applies them."""
    if "GSUB" not in font:
        return []
    table = font["GSUB"].table
    if not table.ScriptList or not table.FeatureList or not table.LookupList:
        return []
    lookups: list[int] = []
    for script in table.ScriptList.ScriptRecord:
        if script.ScriptTag != script_tag:
            continue
        langsys = script.Script.DefaultLangSys
        for record in script.Script.LangSysRecord:
            if language is not None and record.LangSysTag == language:
                langsys = record.LangSys
        if langsys is None:
            continue
        for index in langsys.FeatureIndex:
            feature = table.FeatureList.FeatureRecord[index]
            if feature.FeatureTag in tags:
                lookups.extend(feature.Feature.LookupListIndex)
    out = []
    for index in sorted(set(lookups)):
        lookup = table.LookupList.Lookup[index]
        for subtable in lookup.SubTable:
            if lookup.LookupType == 7:
                subtable = subtable.ExtSubTable
            out.append(subtable)
    return out


def _simplified_chinese_forms(font: Any, script_tag: str) -> dict[str, str]:
    """The glyphs HarfBuzz substitutes for text tagged zh-CN: the font's 'locl' single substitutions. Han
    runs are shaped as language ZHS (in Noto CJK — is then a full em, the default glyph 0.89 em); Pango
    gives Latin runs the script's default language, whose locl makes digits after a letter wider (1: 0.549
    em, not 0.471)."""
    forms: dict[str, str] = {}
    for subtable in _han_lookups(font, ("locl",), script_tag, "ZHS " if script_tag == "hani" else None):
        forms.update(getattr(subtable, "mapping", None) or {})
    return forms


def _ligated(font: Any, cmap: dict[int, str], pair: str) -> bool:
    """Does the font draw `pair` as one glyph (a ccmp/liga ligature)?"""
    first, second = (cmap.get(ord(ch)) for ch in pair)
    if first is None or second is None:
        return False
    for subtable in _han_lookups(font, ("ccmp", "liga")):
        for ligature in (getattr(subtable, "ligatures", None) or {}).get(first, []):
            if list(ligature.Component) == [second]:
                return True
    return False


def faces(role: str) -> list[Face]:
    """The installed faces of a role's font stack, first choice first."""
    out = []
    for family in font_stacks()[role]:
        found = _face_file(family)
        if found:
            out.append(_face(*found))
    return out


def primary_face(role: str) -> Face:
    stack = faces(role)
    if not stack:
        raise LookupError(f"no font of the {role!r} stack is installed")
    return stack[0]


def advance(ch: str, role: str, latin_run: bool = False) -> float:
    """A character's advance in the role's fonts, as a fraction of the size (1.0 when no font has it:
    rendering refuses such a character anyway); `latin_run`: it follows a Latin letter (Pango shapes it
    as Latin script then)."""
    for face in faces(role):
        width = (face.latin_advances if latin_run else face.advances).get(ord(ch))
        if width is not None:
            return width
    return 1.0


# --- lines -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    text: str
    role: str


@dataclass(frozen=True)
class Line:
    runs: list[Run]
    spacing: float  # letter-spacing, pt
    indent: float  # pt
    last: bool  # a paragraph's last line: on the grid, not stretched

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


def _break_allowed(chars: list[str], i: int, *, keep_latin: bool) -> bool:
    """May a line end before chars[i]?"""
    b, a = i - 1, i
    while b > 0 and chars[b] == " ":
        b -= 1  # spaces at a break vanish: the rules apply to what is left on either side
    while a < len(chars) - 1 and chars[a] == " ":
        a += 1
    before, after = chars[b][-1], chars[a][0]
    if after in NO_LINE_START or before in NO_LINE_END:
        return False
    if before == after and before in UNSPLIT_PAIRS:
        return False
    if keep_latin and before in LATIN and after in LATIN:
        return False
    return True


def _latin_run_width(chars: list[str], widths: list[float], i: int) -> float:
    """Width of the Latin/digit run chars[i] sits in."""
    start, end = i, i
    while start > 0 and chars[start - 1] in LATIN:
        start -= 1
    while end + 1 < len(chars) and chars[end + 1] in LATIN:
        end += 1
    return sum(widths[start:end + 1])


def quantized(spacing: float, size: float = BODY_SIZE) -> float:
    """The letter-spacing to ask for so that WeasyPrint 70 draws `spacing` as closely as it can: it writes each
    glyph's adjustment as whole thousandths of an em, truncated towards zero (draw/text.py, `int(kerning)`),
    so ask for the nearest whole thousandth plus half a thousandth away from zero (exact after truncation)."""
    thousandths = round(spacing * 1000 / size)
    if thousandths == 0:
        return 0.0
    return (thousandths + (0.5 if thousandths > 0 else -0.5)) * size / 1000


def _spacing(widths: list[float], start: int, stop: int, available: float) -> float:
    count = stop - start
    if count < 2:
        return SPACING
    return (available - sum(widths[start:stop])) / (count - 1)


def _choose_break(chars: list[str], widths: list[float], start: int, natural: int, available: float) -> int:
    """Where the line that starts at `start` ends (exclusive), the natural end being `natural`: the allowed
    break nearest to it, pushing characters to the next line or squeezing closing marks in, whichever
    changes the spacing least — first keeping short Latin/digit runs whole, then not; then, for runs of
    marks no limit can absorb, any break the 避头尾 rules allow; the natural end only when none does."""
    def allowed(i: int, keep_latin: bool) -> bool:
        if i >= len(chars):
            return True  # the paragraph's end
        if keep_latin and chars[i - 1] in LATIN and chars[i] in LATIN:
            keep_latin = _latin_run_width(chars, widths, i) <= LATIN_KEEP_WIDTH
        return _break_allowed(chars, i, keep_latin=keep_latin)

    def deviation(stop: int) -> float:
        return _spacing(widths, start, stop, available) - SPACING

    for keep_latin, back, ahead, limited in ((True, 4, 2, True), (False, 4, 2, True), (False, 8, 3, False)):
        candidates = []
        for stop in range(natural, max(start + 1, natural - back), -1):  # push characters to the next line
            if allowed(stop, keep_latin):
                candidates.append(stop)
                break
        for stop in range(natural + 1, min(len(chars), natural + ahead) + 1):  # or squeeze closing marks in
            if allowed(stop, keep_latin):
                candidates.append(stop)
                break
        fitting = [stop for stop in candidates if not limited or -MAX_SQUEEZE <= deviation(stop) <= MAX_STRETCH]
        if fitting:
            return min(fitting, key=lambda stop: abs(deviation(stop)))
    return natural


def break_lines(runs: list[Run], *, indent_cells: float = 2, size: float = BODY_SIZE) -> list[Line]:
    """A paragraph's lines on the grid: all but the last exactly as wide as the type area."""
    chars: list[str] = []  # clusters: one character, or a pair the font draws as one glyph
    roles: list[str] = []
    for run in runs:
        ligatures = faces(run.role)[0].ligatures if faces(run.role) else frozenset()
        i = 0
        while i < len(run.text):
            step = 2 if run.text[i:i + 2] in ligatures else 1
            chars.append(run.text[i:i + step])
            roles.append(run.role)
            i += step
    latin = _latin_runs(chars)
    widths = [sum(advance(ch, role, in_latin) for ch in cluster) * size
              for cluster, role, in_latin in zip(chars, roles, latin)]
    lines: list[Line] = []
    start, first = 0, True
    while start < len(chars):
        while start < len(chars) and chars[start] == " ":
            start += 1  # a space never starts a line
        if start >= len(chars):
            break
        indent = indent_cells * PITCH if first else 0.0
        available = TYPE_WIDTH - indent
        stop, used = start, 0.0
        while stop < len(chars) and used + widths[stop] <= available + 0.5:
            used += widths[stop] + SPACING
            stop += 1
        stop = max(stop, start + 1)
        last = stop >= len(chars)
        if not last:
            stop = _choose_break(chars, widths, start, stop, available)
        end = stop
        while end > start + 1 and chars[end - 1] == " ":
            end -= 1  # nor ends one
        spacing = quantized(SPACING if last else _spacing(widths, start, end, available), size)
        lines.append(Line(runs=_runs(chars, roles, start, end), spacing=round(spacing, 4), indent=indent, last=last))
        start, first = stop, False
    return lines


def _latin_runs(chars: list[str]) -> list[bool]:
    """Which characters Pango shapes as Latin script: letters, and the digits, spaces and marks (script
    Common) that follow a letter before the next Han character (Common takes the preceding run's script;
    at the start of a paragraph, the next one's)."""
    strong: list[bool | None] = []
    for cluster in chars:
        ch = cluster[0]
        if ch.isascii() and ch.isalpha():
            strong.append(True)
        elif ch.isalpha():  # 汉字 (and any other letter the fonts have): not Latin
            strong.append(False)
        else:
            strong.append(None)
    out: list[bool] = []
    current: bool | None = next((s for s in strong if s is not None), False)
    for value in strong:
        if value is not None:
            current = value
        out.append(bool(current))
    return out


def _runs(chars: list[str], roles: list[str], start: int, end: int) -> list[Run]:
    out: list[Run] = []
    for i in range(start, end):
        if out and out[-1].role == roles[i]:
            out[-1] = Run(out[-1].text + chars[i], roles[i])
        else:
            out.append(Run(chars[i], roles[i]))
    return out


def text_width(text: str, role: str = "body", size: float = BODY_SIZE) -> float:
    """A one-line text's width on the grid's letter-spacing (the last character's trailing spacing left out)."""
    if not text:
        return 0.0
    latin = _latin_runs(list(text))
    return sum(advance(ch, role, in_latin) * size for ch, in_latin in zip(text, latin)) + (
        len(text) - 1) * quantized(SPACING, size)


def signature(organ: str, day: str, *, sealed: bool) -> dict[str, float]:
    """Right indents (pt) of the 发文机关署名 and the 成文日期 (GB/T 9704 7.3.5). With a seal: the date 4
    cells from the right, the organ centred over it. Without: the organ 2 cells from the right, the date
    starting 2 cells right of the organ's first character — unless that runs it past 2 cells from the right,
    then the date 2 cells from the right and the organ moved left to keep the 2-cell step."""
    organ_width, day_width = text_width(organ), text_width(day)
    if sealed:
        day_right = 4 * PITCH
        organ_right = max(0.0, day_right + (day_width - organ_width) / 2)
    else:
        organ_right = 2 * PITCH
        day_right = organ_right + organ_width - 2 * PITCH - day_width
        if day_right < 2 * PITCH:
            day_right = 2 * PITCH
            organ_right = day_right + day_width + 2 * PITCH - organ_width
    return {"organ_right": organ_right, "date_right": day_right,
            "centre_right": day_right + day_width / 2}  # the seal is centred on the date


# --- vertical geometry --------------------------------------------------------------------------------


def geometry(mark_size: float) -> dict[str, float]:
    """Offsets (pt) the stylesheet needs so that glyphs, not boxes, sit where the standard says."""
    body = primary_face("body")
    title = primary_face("title")
    first_line = body.em_top_in_line(BODY_SIZE, LINE_HEIGHT)  # the page box starts this far above the glyphs
    mark_line = mark_size * 1.2
    number_line = 14.0
    half_leading = (LINE_HEIGHT - (body.ascent + body.descent) * BODY_SIZE) / 2
    docno_below = half_leading + (body.descent - (1 - body.em_top)) * BODY_SIZE  # line box bottom under the em box
    return {
        "first_line": first_line,
        "area_height": TYPE_HEIGHT,
        "area_width": TYPE_WIDTH,
        # the red rule 4 mm under the document number's glyphs
        "rule_gap": 4 * MM - docno_below,
        "margin_top": 37 * MM - first_line,
        "margin_bottom": 35 * MM + first_line,
        "pitch": PITCH,
        "spacing": quantized(SPACING),
        "line": LINE_HEIGHT,
        "mark_line": mark_line,
        # the mark's em box 35 mm below the type area's top (which is first_line below the page box's top)
        "mark_top": 35 * MM + first_line - title.em_top_in_line(mark_size, mark_line),
        # the page number's em box 7 mm below the type area (whose bottom is first_line below the box's)
        "number_top": 7 * MM + first_line - body.em_top_in_line(14.0, number_line),
        "number_line": number_line,
    }


TITLE_SIZE = 22.0  # 2号
TITLE_BREAK_AFTER = frozenset("”）》」』、，")
TITLE_BREAK_BEFORE = frozenset("“（《「『")


def title_lines(title: str, role: str = "title", size: float = TITLE_SIZE) -> list[str]:
    """A title broken into as few lines as fit the type area, balanced: GB/T 9704 wants a title's lines
    of even length and whole in meaning, never one character left on a line of its own (WeasyPrint would
    fill the first lines and leave the rest). Breaks obey the same line-start/line-end rules as the body
    and do not split a Latin/digit run."""
    chars = list(title)
    if not chars:
        return []
    widths = [advance(ch, role, latin) * size for ch, latin in zip(chars, _latin_runs(chars))]
    total = sum(widths)
    lines = max(1, -(-int(total) // int(TYPE_WIDTH)))
    if lines == 1 and total <= TYPE_WIDTH:
        return [title]
    lines = max(lines, 2)
    out, start, done = [], 0, 0.0
    for n in range(1, lines):
        target = total * n / lines
        # the allowed break nearest the even share (never past the type area's width)
        candidates = [i for i in range(start + 1, len(chars)) if _break_allowed(chars, i, keep_latin=True)
                      and sum(widths[start:i]) <= TYPE_WIDTH]
        if not candidates:
            break
        # Words are kept whole where the title says where they end: a break after a closing mark or before an
        # opening one is worth up to three characters of imbalance.
        costs = {i: abs(done + sum(widths[start:i]) - target)
                 - (3 * size if chars[i - 1] in TITLE_BREAK_AFTER or chars[i] in TITLE_BREAK_BEFORE else 0)
                 for i in candidates}
        cut = min(costs, key=costs.__getitem__)
        out.append("".join(chars[start:cut]))
        done += sum(widths[start:cut])
        start = cut
    out.append("".join(chars[start:]))
    return out
