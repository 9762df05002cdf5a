"""PDFs the server prints (the village posting list), with the fonts it carries
(``server/fonts``), so Vietnamese renders the same everywhere and nothing is fetched."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

FONTS = Path(__file__).resolve().parent / "fonts"


def table_pdf(title: str, subtitle: str, header: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float], footer: str = "") -> bytes:
    """An A4 page (or more) with a title, a subtitle, a bordered table and a footer line."""
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 13)
    pdf.multi_cell(0, 7, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 6, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    with pdf.table(col_widths=tuple(widths), text_align="LEFT", line_height=6) as table:
        pdf.set_font("DejaVu", "B", 9)
        head = table.row()
        for text in header:
            head.cell(text)
        pdf.set_font("DejaVu", "", 9)
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(str(text))
    if footer:
        pdf.ln(4)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 5, footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
