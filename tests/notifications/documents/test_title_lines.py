"""Long titles are broken into balanced lines (GB/T 9704: even lines, no character left alone), within the
type area and by the same line-start/line-end rules as the body."""

import pytest

from notifications.documents import layout

LONG = "关于省委办公厅做好2025年度“五型机关”创建工作调研考核（试点）问题整改的通知"


def test_a_long_title_is_balanced():
    lines = layout.title_lines(LONG)
    assert "".join(lines) == LONG and len(lines) == 2
    widths = [layout.text_width(line, "title", layout.TITLE_SIZE) for line in lines]
    assert all(w <= layout.TYPE_WIDTH for w in widths)
    assert abs(widths[0] - widths[1]) < 4 * layout.TITLE_SIZE  # WeasyPrint left "知" alone on a third line
    assert not any(line[0] in layout.NO_LINE_START or line[-1] in layout.NO_LINE_END for line in lines)


@pytest.mark.parametrize("title", ["关于开展半年跟踪考评的通知", "关于2026年上半年绩效考评结果的通报"])
def test_a_title_that_fits_stays_on_one_line(title):
    assert layout.title_lines(title) == [title]


def test_a_break_never_splits_a_year_or_a_quoted_name():
    for line in layout.title_lines("2025年度“五型机关”创建工作调研考核（试点）整改台账和2025年度问题清单汇总表"):
        assert not line.startswith(("”", "）", "025", "25")) and not line.endswith(("“", "（"))
