"""GB/T 9704-2012 layout of the rendered PDFs (issue #10), read back from real PDFs with pdfplumber and
poppler's tools: the type area, the 28 × 22 grid, justified lines without inserted spaces, the red head,
page numbers, the 版记 on an even last page, attachments, fonts, missing glyphs, and a visual regression
against committed reference images (UPDATE_REFERENCE_IMAGES=1 regenerates them)."""

import copy
import io
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
import weasyprint
from django.template.loader import render_to_string

from cases import models as m
from notifications.documents import layout, render
from notifications.documents import services as ds
from tests.conftest import module_world
from tests.factories import make_round
from tests.notifications.documents import pdfcheck as pc

pytestmark = pytest.mark.django_db

FROZEN = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = date(2026, 3, 2)
REFERENCE = Path(__file__).parent / "reference"
OUT = Path(os.environ.get("VAR_DIR", "/tmp")) / "pdf-layout-test"

# A sentence without punctuation or Latin: every full line of it holds exactly 28 characters.
PLAIN = "各单位要高度重视考评工作切实加强组织领导明确责任分工认真对照考评细则逐项开展自查确保材料真实完整并按时报送考评办公室汇总审核"
PLAIN_CHARS = frozenset(PLAIN)
# 26 characters fill a first line (2 cells of indent): what follows them tests the line-breaking rules.
BEFORE_COMMA = PLAIN[:26] + "，" + PLAIN[26:60] + "。"  # a comma may not start the second line
BEFORE_QUOTE = PLAIN[:25] + "“" + PLAIN[25:40] + "”" + PLAIN[40:56] + "。"  # an opening quote may not end the first
DASHES = PLAIN[:25] + "——" + PLAIN[25:50] + "。"  # a dash of two cells is not split
BODY = [
    "为做好2026年上半年绩效考评工作，根据年度工作安排，经研究，决定开展本次考评。现将有关事项通知如下。",
    "一、总体要求",
    PLAIN + PLAIN[:50] + "。",
    "（一）考评范围。本次考评覆盖全部被考评单位，按照分组情况开展，各组对所联系单位逐一考评。",
    BEFORE_COMMA,
    BEFORE_QUOTE,
    "二、方法步骤",
    PLAIN + PLAIN + "。",
    DASHES,
    "（二）材料报送。各单位于3月20日前通过系统报送自评报告（不超过3000字）和佐证材料，经单位负责人审定后提交。",
    "1. 自评报告要实事求是，突出重点。",
    "（1）佐证材料应与自评内容一一对应。",
    PLAIN + PLAIN[:30] + "。",
    "三、有关要求",
    PLAIN + PLAIN + PLAIN[:40] + "。",
    "考评工作中遇到的问题，请及时与所在考评组联络员联系。",
]
NO_LINE_START = "，。、；：？！）》」』】〕”’"
NO_LINE_END = "（《「『【〔“‘"


@dataclass
class World:
    setup: object
    launch: object
    results: object
    launch_pdf: bytes
    results_pdf: bytes
    preview_pdf: bytes


def _fixed_names(setup) -> None:
    """Names that do not depend on how many rounds other tests made (the factories number them)."""
    for i, unit in enumerate(setup.units, 1):
        m.Unit.objects.filter(pk=unit.pk).update(name=f"第{i}考评单位", short_name=f"单位{i}")
    for g, people in enumerate(setup.groups, 1):
        for role, user in (("组长", people.leader), ("副组长", people.deputy), ("联络员", people.liaison)):
            m.User.objects.filter(pk=user.pk).update(display_name=f"{role}{g}", office_phone="0431-88900000",
                                                     mobile=f"1390431000{g}")


def _store_results(setup) -> None:
    grades = ["优秀", "优秀", "良好", "良好", "一般", "一般"]
    for rank, case in enumerate(setup.cases, 1):
        total = Decimal("98.50") - Decimal(rank) * Decimal("1.25")
        m.Result.objects.create(
            case=case, round=setup.round, panel=total + 1, deductions=Decimal("1.50"), bonus=Decimal("0.50"),
            total=total, rank=rank, grade=grades[rank - 1], movement=[2, -1, 0, None, 1, -2][rank - 1],
        )


def build() -> World:
    with time_machine.travel(FROZEN, tick=False):
        setup = make_round(units=6, experts=1, groups=2, launch=True, title="2026年上半年绩效考评")
        _fixed_names(setup)
        launch = ds.draft_create(user=setup.office, round=setup.round, kind="launch_notice")
        launch.body = BODY
        launch.cc = "市委办公室，市政府办公室"
        launch.save()
        _store_results(setup)
        results = ds.draft_create(user=setup.office, round=setup.round, kind="results_notice")
        return World(
            setup=setup, launch=launch, results=results,
            launch_pdf=render.render_pdf(ds.html_of(launch, preview=False, number=7, on=DAY)).pdf,
            results_pdf=render.render_pdf(ds.html_of(results, preview=False, number=8, on=DAY)).pdf,
            preview_pdf=render.render_pdf(ds.html_of(launch, preview=True, on=DAY)).pdf,
        )


world = module_world(build)


@pytest.fixture(scope="module")
def launch_pages(world):
    return pc.checked(world.launch_pdf)


@pytest.fixture(scope="module")
def results_pages(world):
    return pc.checked(world.results_pdf)


# --- page and type area ---------------------------------------------------------------------------


def test_pages_are_a4(world):
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(world.launch_pdf))
    assert len(reader.pages) >= 4
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(pc.PAGE_WIDTH, abs=0.5)
        assert float(page.mediabox.height) == pytest.approx(pc.PAGE_HEIGHT, abs=0.5)


def test_text_stays_inside_the_type_area(launch_pages, results_pages):
    for page in launch_pages + results_pages:
        number = page.page_number()
        for char in page.chars:
            if number and char in number.chars:
                continue
            assert pc.LEFT - 0.5 <= char["x0"] and char["x1"] <= pc.RIGHT + 0.5, (page.number, char["text"], char["x0"])
            assert pc.TOP - 0.5 <= char["top"] and char["bottom"] <= pc.BOTTOM + 0.5, (page.number, char["text"])


def test_first_line_glyphs_sit_37_mm_below_the_top_edge(launch_pages):
    """The standard's 37 mm is measured on the text: the first line's ideographic em box (0.88 em above
    the baseline in Noto CJK) starts at the type area's top, not its line box."""
    first = launch_pages[1].body_lines()[0]
    assert first.baseline - 0.88 * 16 == pytest.approx(pc.TOP, abs=0.5)


def test_full_body_lines_hold_28_characters_edge_to_edge(launch_pages):
    full = []
    for page in launch_pages:
        for line in page.body_lines():
            if set(line.text) <= PLAIN_CHARS and abs(line.x0 - pc.LEFT) < 1 and abs(line.x1 - pc.RIGHT) < 1:
                full.append(line)
    assert len(full) >= 8
    for line in full:
        assert len(line.text) == 28, line.text
        assert line.x0 == pytest.approx(pc.LEFT, abs=1)
        assert line.x1 == pytest.approx(pc.RIGHT, abs=1)


def test_every_line_but_a_paragraphs_last_is_justified(launch_pages):
    """Lines that continue on the next line end on the right edge of the type area, whatever they hold
    (digits, punctuation squeezed in, a character pushed out)."""
    lines = [line for page in launch_pages for line in page.body_lines()]
    continued = [a for a, b in zip(lines, lines[1:]) if abs(b.x0 - pc.LEFT) < 1 and b.size == 16.0 and a.x1 > pc.RIGHT - 20]
    assert len(continued) >= 15
    for line in continued:
        assert line.x1 == pytest.approx(pc.RIGHT, abs=1), line.text


def test_a_full_page_holds_22_lines_on_a_28_95_pt_grid(launch_pages):
    page = launch_pages[1]  # all body text
    lines = page.body_lines()
    assert len(lines) == 22
    steps = [b.baseline - a.baseline for a, b in zip(lines, lines[1:])]
    assert all(step == pytest.approx(28.95, abs=0.1) for step in steps), steps
    assert lines[-1].baseline + 0.12 * 16 <= pc.BOTTOM


def test_extracted_text_has_no_inserted_spaces_and_obeys_line_breaking_rules(world):
    """Each paragraph comes back exactly as written once line ends are joined: no space inserted by the
    justification (pdftotext writes one when glyphs stand apart)."""
    text = "".join(re.sub(r"\n—\s*\d+\s*—\n", "\n", page) for page in pc.pdftotext(world.launch_pdf))
    joined = re.sub(r"\n+", "", text)
    for paragraph in BODY:
        assert paragraph in joined, paragraph
    lines = [line for line in text.splitlines() if line.strip()]
    for previous, line in zip(lines, lines[1:]):
        assert line[0] not in NO_LINE_START, line
        assert previous[-1] not in NO_LINE_END, previous
        assert not (previous.endswith("—") and line.startswith("—")), (previous, line)


def test_line_breaking_rules_in_the_breaker_itself():
    for text in (BEFORE_COMMA, BEFORE_QUOTE, DASHES, BODY[0], BODY[9]):
        lines = layout.break_lines([layout.Run(text, "body")])
        assert "".join(line.text for line in lines) == text.replace(" ", "")
        for line in lines:
            assert line.text[0] not in NO_LINE_START and line.text[-1] not in NO_LINE_END, line.text
        for a, b in zip(lines, lines[1:]):
            assert not (a.text.endswith("—") and b.text.startswith("—"))
            assert not a.last and abs(a.spacing - layout.SPACING) <= 1.35
    # the comma is squeezed into the first line (27 characters, tighter) rather than starting the second
    first = layout.break_lines([layout.Run(BEFORE_COMMA, "body")])[0]
    assert first.text.endswith("，") and first.spacing < layout.SPACING


# --- head, headings, signature, numbers ---------------------------------------------------------------


def test_red_mark_number_and_rule(launch_pages, world):
    page = launch_pages[0]
    lines = page.lines()
    mark = lines[0]
    assert mark.text == world.launch.issuer.mark
    assert all(pc.is_red(c["non_stroking_color"]) for c in mark.chars)
    assert mark.baseline - 0.88 * mark.size == pytest.approx(pc.TOP + 35 * pc.MM, abs=0.5)  # 35 mm below the area's top
    number = lines[1]
    assert number.text == f"{world.launch.issuer.code}〔2026〕7号"
    assert (number.x0 + number.x1) / 2 == pytest.approx((pc.LEFT + pc.RIGHT) / 2, abs=1)
    assert not any(pc.is_red(c["non_stroking_color"]) for c in number.chars)
    rules = [r for r in page.rects if pc.is_red(r["non_stroking_color"])]
    assert len(rules) == 1
    rule = rules[0]
    assert rule["x0"] == pytest.approx(pc.LEFT, abs=0.5) and rule["x1"] == pytest.approx(pc.RIGHT, abs=0.5)
    assert rule["top"] - (number.baseline + 0.12 * 16) == pytest.approx(4 * pc.MM, abs=0.5)  # 4 mm under the number
    title = lines[2]
    assert title.size == 22.0 and title.text == world.launch.title


def test_headings_use_their_fonts(launch_pages):
    by_text = {line.text: line for page in launch_pages for line in page.body_lines()}
    assert "Sans" in by_text["一、总体要求"].chars[0]["fontname"]  # 黑体 role
    kai = next(line for text, line in by_text.items() if text.startswith("（一）考评范围"))
    assert "UKai" in kai.chars[0]["fontname"]  # 楷体 role, up to the heading's full stop
    assert "Serif" in kai.chars[-1]["fontname"]  # the rest of the paragraph in the body font
    assert "Serif" in next(line for text, line in by_text.items() if text.startswith("1.自评")).chars[0]["fontname"]


def test_addressees_attachment_notation_and_signature(launch_pages, world):
    lines = [line for page in launch_pages for line in page.body_lines()]
    addressees = next(line for line in lines if line.text == "各被考评单位：")
    assert addressees.x0 == pytest.approx(pc.LEFT, abs=0.5)
    note = next(line for line in lines if line.text.startswith("附件："))
    assert note.text == "附件：2026年上半年绩效考评分组情况"
    assert note.x0 == pytest.approx(pc.LEFT + 2 * pc.PITCH, abs=1)
    # No seal: the organ 右空二字, the date (Arabic numerals) under it, its first character two cells to the right
    date_line = next(line for line in lines if line.text == "2026年3月2日")
    organ = next(line for line in lines if line.text == world.launch.issuer.name)
    assert pc.RIGHT - organ.x1 == pytest.approx(2 * pc.PITCH, abs=1)
    assert date_line.x0 - organ.x0 == pytest.approx(2 * pc.PITCH, abs=1)
    assert date_line.baseline - organ.baseline == pytest.approx(28.95, abs=0.1)


@pytest.fixture
def seal_file(settings):
    """A seal image as an office uploads it: a PNG under MEDIA_ROOT/seals/."""
    from PIL import Image, ImageDraw

    path = Path(settings.MEDIA_ROOT) / "seals" / f"test-seal-{os.getpid()}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((10, 10, 390, 390), outline=(230, 0, 18, 255), width=16)
    image.save(path)
    yield path
    path.unlink(missing_ok=True)


def _sealed(world, name: str):
    document = copy.copy(world.launch)
    document.issuer = copy.copy(world.launch.issuer)
    document.issuer.seal = f"seals/{name}"  # a new FieldFile: the shared one stays blank
    return document


def test_a_seal_over_the_date(world, seal_file):
    """With the issuer's seal (an uploaded PNG): the date 右空四字, the organ centred over it, the seal image
    centred on the date and overlapping both lines."""
    document = _sealed(world, seal_file.name)
    pages = pc.checked(render.render_pdf(ds.html_of(document, preview=False, number=7, on=DAY)).pdf)
    page = next(p for p in pages if any(line.text == "2026年3月2日" for line in p.body_lines()))
    date_line = next(line for line in page.body_lines() if line.text == "2026年3月2日")
    organ = next(line for line in page.body_lines() if line.text == world.launch.issuer.name)
    assert pc.RIGHT - date_line.x1 == pytest.approx(4 * pc.PITCH, abs=1)
    assert (organ.x0 + organ.x1) / 2 == pytest.approx((date_line.x0 + date_line.x1) / 2, abs=1)
    [seal] = page.images
    assert seal["x1"] - seal["x0"] == pytest.approx(42 * pc.MM, abs=1)
    assert (seal["x0"] + seal["x1"]) / 2 == pytest.approx((date_line.x0 + date_line.x1) / 2, abs=1)
    assert seal["top"] < organ.baseline - 16 and date_line.baseline < seal["bottom"]


def test_a_missing_seal_file_stops_the_render(world, seal_file):
    with pytest.raises(render.RenderError) as raised:
        render.render_pdf(ds.html_of(_sealed(world, "no-such-seal.png"), preview=False, number=7, on=DAY))
    assert "no-such-seal.png" in str(raised.value)


def test_page_numbers_right_on_odd_and_left_on_even_pages(launch_pages):
    numbered = [page for page in launch_pages if page.page_number()]
    assert len(numbered) >= 3
    for page in numbered:
        number = page.page_number()
        assert number.text == f"—{page.number}—"
        assert number.size == 14.0
        assert number.baseline - 0.88 * 14 == pytest.approx(pc.BOTTOM + 7 * pc.MM, abs=0.5)
        if page.number % 2:
            assert number.x1 == pytest.approx(pc.RIGHT - 14, abs=0.5)
        else:
            assert number.x0 == pytest.approx(pc.LEFT + 14, abs=0.5)


def test_attachment_starts_a_new_page_with_its_label_top_left(launch_pages):
    page = next(page for page in launch_pages if page.body_lines() and page.body_lines()[0].text == "附件")
    label = page.body_lines()[0]
    assert label.x0 == pytest.approx(pc.LEFT, abs=0.5)
    assert label.baseline - 0.88 * 16 == pytest.approx(pc.TOP, abs=0.5)
    assert "Sans" in label.chars[0]["fontname"]
    previous = launch_pages[page.number - 2]
    assert any(line.text == "2026年3月2日" for line in previous.body_lines())  # the text ended on the page before


def test_banji_at_the_bottom_of_the_even_last_page(launch_pages):
    last = launch_pages[-1]
    assert last.number % 2 == 0
    printed = next(line for line in last.lines() if line.text.endswith("印发"))
    assert printed.text == "绩效考评工作领导小组办公室2026年3月2日印发" and printed.size == 14.0
    assert printed.x0 == pytest.approx(pc.LEFT + 14, abs=0.5) and printed.x1 == pytest.approx(pc.RIGHT - 14, abs=0.5)
    cc = next(line for line in last.lines() if line.text.startswith("抄送："))
    assert cc.text == "抄送：市委办公室，市政府办公室。"
    rules = sorted((r for r in last.rects if r["width"] > 400 and r["height"] < 2), key=lambda r: r["top"])  # not a table
    assert len(rules) == 3 and all(r["x0"] == pytest.approx(pc.LEFT, abs=0.5) for r in rules)
    assert rules[-1]["bottom"] == pytest.approx(pc.BOTTOM, abs=1)  # the last rule on the type area's bottom edge
    assert rules[0]["top"] < cc.baseline < rules[1]["top"] < printed.baseline < rules[2]["top"]


def _letter(world, paragraphs: int) -> list[pc.Page]:
    """A letter without attachments whose text ends where `paragraphs` paragraphs of PLAIN put it."""
    document = copy.copy(world.launch)
    document.body = [PLAIN] * paragraphs
    context = ds.context_of(document, preview=False, number=9, on=DAY)
    context["attachments"] = []
    return pc.checked(render.render_pdf(render_to_string("documents/pdf/base.html", context)).pdf)


@pytest.mark.parametrize(("paragraphs", "case"), [(1, "odd"), (5, "even, room"), (9, "even, no room")])
def test_banji_placement(world, paragraphs, case):
    pages = _letter(world, paragraphs)
    assert len(pages) % 2 == 0
    last = pages[-1]
    banji = [line for line in last.lines() if line.text.endswith("印发")]
    assert banji and banji[0].baseline < pc.BOTTOM
    signature_page = next(p for p in pages if any(line.text == "2026年3月2日" for line in p.body_lines()))
    if case == "odd":  # text ends on page 1: the 版记 alone on page 2, no page number
        assert signature_page.number == 1 and len(pages) == 2
        assert last.page_number() is None and not last.body_lines()
    elif case == "even, room":  # the 版记 under the text of page 2, which keeps its number
        assert signature_page.number == 2 and len(pages) == 2
        assert last.page_number().text == "—2—"
    else:  # text fills page 2: a blank page 3 and the 版记 alone on page 4, neither numbered
        assert signature_page.number == 2 and len(pages) == 4
        assert not pages[2].chars
        assert last.page_number() is None and not last.body_lines()
    rules = sorted((r for r in last.rects if r["width"] > 400), key=lambda r: r["top"])
    assert rules[-1]["bottom"] == pytest.approx(pc.BOTTOM, abs=1)


# --- fonts and glyphs -------------------------------------------------------------------------------------


def test_only_embedded_subset_cjk_fonts(world):
    for pdf in (world.launch_pdf, world.results_pdf):
        fonts = pc.pdffonts(pdf)
        assert fonts
        for font in fonts:
            assert font["emb"] == "yes" and font["sub"] == "yes", font
            assert re.match(r"^[A-Z]{6}\+", font["name"]), font
            assert "CJK" in font["name"] or "UKai" in font["name"], font  # punctuation too: no Latin fallback


def test_punctuation_comes_from_the_cjk_fonts(launch_pages):
    for page in launch_pages:
        for char in page.chars:
            if char["text"] in "，。、；：？！“”（）《》〔〕—":
                assert "CJK" in char["fontname"] or "UKai" in char["fontname"], char


@pytest.mark.parametrize("character", ["\U0001F600", "\U00013000"])
def test_a_character_no_font_has_is_an_error_naming_it(world, character):
    document = copy.copy(world.launch)
    document.body = [f"本段含有字符{character}。"]
    with pytest.raises(render.MissingGlyph) as raised:
        render.render_pdf(ds.html_of(document, preview=False, number=1, on=DAY))
    assert character in str(raised.value)


def test_the_notdef_watch_sees_weasyprints_warning(notdef_watch):
    """The conftest hook fails a test on this warning; here it is provoked on purpose and taken."""
    weasyprint.HTML(string="<p>\U00013000</p>").write_pdf()
    taken = notdef_watch.take()
    assert taken and "U+13000" in taken[0]


def test_preview_carries_the_watermark_and_no_number(world):
    pages = pc.read(world.preview_pdf)
    assert all("样" in page.text and "稿" in page.text for page in pages)
    assert "〔2026〕7号" not in pages[0].text


# --- visual regression ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["launch", "results"])
def test_pages_look_like_the_reference_images(world, name):
    pdf = world.launch_pdf if name == "launch" else world.results_pdf
    rendered = pc.to_png(pdf, OUT, name)  # left in $VAR_DIR/pdf-layout-test/ with the PDF, to look at
    (OUT / f"{name}.pdf").write_bytes(pdf)
    if os.environ.get("UPDATE_REFERENCE_IMAGES") == "1":
        REFERENCE.mkdir(exist_ok=True)
        for old in REFERENCE.glob(f"{name}-*.png"):
            old.unlink()
        for path in rendered:
            (REFERENCE / path.name).write_bytes(path.read_bytes())
    references = sorted(REFERENCE.glob(f"{name}-*.png"))
    assert len(references) == len(rendered), f"{len(rendered)} pages rendered, {len(references)} reference images"
    for path in rendered:
        mean, changed = pc.difference(path, REFERENCE / path.name)
        assert mean <= 0.5 and changed <= 0.002, f"{path.name}: mean difference {mean:.3f}, {changed:.2%} of pixels changed"



def test_internal_version_without_red_head_and_with_two_attachments(world):
    """The committee version is internal: no 发文机关标志, no number, no red; its two attachments are listed
    附件：1. … with the second number under the first, and each starts a page with 附件N."""
    document = ds.draft_create(user=world.setup.office, round=world.setup.round, kind="committee_version")
    pages = pc.checked(render.render_pdf(ds.html_of(document, preview=False, on=DAY)).pdf)
    assert not any(pc.is_red(c["non_stroking_color"]) for page in pages for c in page.chars)
    assert not any(pc.is_red(r["non_stroking_color"]) for page in pages for r in page.rects)
    lines = [line for page in pages for line in page.body_lines()]
    first = next(line for line in lines if line.text.startswith("附件：1."))
    second = lines[lines.index(first) + 1]
    assert first.text == "附件：1.得分构成明细" and second.text == "2.各组评分宽严比较及需关注事项"
    assert first.x0 == pytest.approx(pc.LEFT + 2 * pc.PITCH, abs=1)
    assert second.x0 == pytest.approx(first.chars[3]["x0"], abs=0.5)  # "2" under "1"
    labels = [(page.number, page.body_lines()[0]) for page in pages if page.body_lines() and
              page.body_lines()[0].text in ("附件1", "附件2")]
    assert [line.text for _, line in labels] == ["附件1", "附件2"]
    for _, label in labels:
        assert label.x0 == pytest.approx(pc.LEFT, abs=0.5)
        assert label.baseline - 0.88 * 16 == pytest.approx(pc.TOP, abs=0.5)
    assert len(pages) % 2 == 0
