"""The report: one HTML page beside its figures. Contents first, then sections of sentences, tables
and figures; figures are the PNG files of the output folder, linked by relative path (a page that
embedded them ran to tens of megabytes), each a link to itself at full size. Wide tables scroll
inside their own box, so the page never scrolls sideways."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

Rows = Sequence[Sequence[object]]  # the header first

STYLE = """
body{font-family:sans-serif;margin:2em;max-width:1600px}
nav ul{columns:2;font-size:14px}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px;white-space:nowrap}
caption{text-align:left;font-weight:bold;padding:4px 0}
figure{margin:10px 0}
img{max-width:100%;height:auto}
figcaption{font-size:12px;color:#555}
"""


@dataclass
class Section:
    """A heading with, in this order, sentences (a list), paragraphs, tables (caption, rows) and
    figures (PNG files inside the report's folder)."""

    heading: str
    sentences: Sequence[str] = ()
    paragraphs: Sequence[str] = ()
    tables: Sequence[tuple[str, Rows]] = ()
    figures: Sequence[Path] = ()

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")


def _figure(path: Path, folder: Path) -> str:
    name = html.escape(path.relative_to(folder).as_posix())
    return (f'<figure><a href="{name}"><img src="{name}" alt="{name}"></a>'
            f"<figcaption>{name}</figcaption></figure>")


def _table(caption: str, rows: Rows) -> str:
    header, *body = rows
    cells = "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"
    cells += "".join("<tr>" + "".join(f"<td>{html.escape('' if c is None else str(c))}</td>" for c in row) + "</tr>"
                     for row in body)
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<div class=scroll><table>{title}{cells}</table></div>"


def write_report(folder: Path, title: str, intro: Sequence[str], sections: Sequence[Section]) -> Path:
    """``folder/report.html``: the title, ``intro`` paragraphs, contents linking every section, then the sections."""
    shown = [s for s in sections if s.sentences or s.paragraphs or s.tables or s.figures]
    body = [f"<h1>{html.escape(title)}</h1>", *(f"<p>{html.escape(p)}</p>" for p in intro),
            "<nav id=contents><h2>Contents</h2><ul>"
            + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.heading)}</a></li>' for s in shown) + "</ul></nav>"]
    for section in shown:
        body.append(f'<section id="{section.anchor}"><h2>{html.escape(section.heading)}</h2>')
        if section.sentences:
            body.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in section.sentences) + "</ul>")
        body += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        body += [_table(caption, rows) for caption, rows in section.tables]
        body += [_figure(p, folder) for p in section.figures]
        body.append("</section>")
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<link rel=icon href='data:,'><style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
