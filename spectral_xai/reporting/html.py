"""A self-contained HTML report: the tables and every figure embedded as a data URI."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence


def _image(path: Path, folder: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(str(path.relative_to(folder)))
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{name}">'
            f"<figcaption>{name}</figcaption></figure>")


def _table(rows: Sequence[Sequence[str]]) -> str:
    header, *body = rows
    cells = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    cells += "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table>{cells}</table>"


def write_report(folder: Path, title: str, notes: Sequence[str], tables: Sequence[tuple[str, Sequence[Sequence[str]]]],
                 figures: Sequence[tuple[str, Sequence[Path]]], findings: Sequence[tuple[str, Sequence[str]]] = ()) -> Path:
    """``findings``: (heading, sentences) each, before the tables; ``tables``: (heading, rows with
    the header first) each; ``figures``: (heading, PNG files inside ``folder``) each."""
    body = [f"<h1>{html.escape(title)}</h1>", *(f"<p>{html.escape(n)}</p>" for n in notes)]
    for heading, sentences in findings:
        body += [f"<h2>{html.escape(heading)}</h2>",
                 "<ul>" + "".join(f"<li>{html.escape(sentence)}</li>" for sentence in sentences) + "</ul>"]
    for heading, rows in tables:
        body += [f"<h2>{html.escape(heading)}</h2>", _table(rows)]
    for heading, pngs in figures:
        body += [f"<h2>{html.escape(heading)}</h2>", *(_image(p, folder) for p in pngs)]
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
             "figure{display:inline-block;margin:8px}img{max-width:100%}figcaption{font-size:11px;color:#555}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
