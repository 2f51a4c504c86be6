"""An editable .docx of a draft (python-docx), for offices that finish the wording in WPS or Word.

It carries the text parts in the national layout's page set-up and fonts; the issued PDF, rendered by
the service with the round's tables, stays the record.
"""

from io import BytesIO

from django.conf import settings
from docx import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from notifications.documents import services
from notifications.documents.models import Document

RED = RGBColor(0xE6, 0x00, 0x12)


def _run(paragraph, text: str, *, font: str, size: float, color: RGBColor | None = None):
    run = paragraph.add_run(text)
    run.font.name = font
    run._element.rPr.rFonts.set(qn("w:eastAsia"), font)  # Word picks East Asian text's font from here
    run.font.size = Pt(size)
    if color is not None:
        run.font.color.rgb = color
    return run


def draft_docx(document: Document) -> bytes:
    fonts = settings.DOCUMENT_FONTS
    body_font, title_font, heading_font = fonts["body"][0], fonts["title"][0], fonts["heading"][0]
    word = WordDocument()
    section = word.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    def paragraph(text: str, *, font: str = body_font, size: float = 16, align=None, indent: bool = False,
                  color: RGBColor | None = None):
        p = word.add_paragraph()
        p.paragraph_format.line_spacing = Pt(28.95)
        p.paragraph_format.space_after = Pt(0)
        if align is not None:
            p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        _run(p, text, font=font, size=size, color=color)
        return p

    kind = services.kind_of(document)
    if document.audience != "internal":
        paragraph(document.issuer.mark, font=title_font, size=float(services.mark_size(document.issuer.mark)),
                  align=WD_ALIGN_PARAGRAPH.CENTER, color=RED)
        if kind.numbered:
            paragraph(services.doc_number_text(document.issuer, document.created.year, None),
                      align=WD_ALIGN_PARAGRAPH.CENTER)
    paragraph("")
    paragraph(document.title, font=title_font, size=22, align=WD_ALIGN_PARAGRAPH.CENTER)
    paragraph("")
    if document.addressees:
        paragraph(document.addressees)
    for text in document.body:
        level = services.paragraph_level(text)
        paragraph(text, font=heading_font if level == "h1" else body_font, indent=True,
                  align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    paragraph("")
    paragraph(document.issuer.name, align=WD_ALIGN_PARAGRAPH.RIGHT)
    paragraph("（成文日期）", align=WD_ALIGN_PARAGRAPH.RIGHT)
    if document.cc:
        paragraph("")
        paragraph(f"抄送：{document.cc}。", size=14)
    out = BytesIO()
    word.save(out)
    return out.getvalue()
