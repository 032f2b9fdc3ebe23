"""Export a candidate's report: the JSON contract as saved, and a PDF to attach to a hiring file.

The PDF is a QTextDocument (HTML) printed on a QPdfWriter: score and verdict, the reasons,
each check, the files, the voice check's distances and where to listen, each recording's
timeline (the same drawing as in the app) and the suspicious frames, the ID portrait and reuse
matches.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QSizeF, QUrl
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from . import engine
from .timeline import timeline_image

PDF_RESOLUTION = 150  # dpi of the PDF page (text stays vector)
PAGE_MARGIN_MM = 15.0
TOP_FRAMES_IN_PDF = 6
TIMELINE_PX = 1000  # drawn and shown at this width: about the text width of A4 at PDF_RESOLUTION


def export_json(report: dict[str, Any], path: str | Path) -> Path:
    """Write the report as JSON, owner-only (0600): it holds face crops of the candidate."""
    from detectors.privacy import write_private

    return write_private(Path(path), json.dumps(report, indent=2, ensure_ascii=False))


def _e(text: Any) -> str:
    return html.escape(str(text))


def _b64_image(data: str) -> QImage | None:
    img = QImage()
    try:
        ok = img.loadFromData(QByteArray(base64.b64decode(data)))
    except (ValueError, TypeError):
        return None
    return img if ok else None


class _Doc:
    """An HTML body plus the images it refers to."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.images: dict[str, QImage] = {}

    def add(self, s: str) -> None:
        self.parts.append(s)

    def image(self, img: QImage | None, width: int) -> str:
        if img is None or img.isNull():
            return ""
        name = f"telltale://img/{len(self.images)}"
        self.images[name] = img
        return f'<img src="{name}" width="{width}">'


def report_html(report: dict[str, Any], media_rows: list[Any] | None = None) -> tuple[str, dict[str, QImage]]:
    """The report as HTML and its images (name -> QImage)."""
    d = _Doc()
    verdict = report.get("verdict")
    colour = engine.verdict_colour(verdict)
    score = engine.finite(report.get("score"))
    d.add("<html><body style='font-family: sans-serif; font-size: 10pt;'>")
    d.add(f"<h1 style='margin-bottom:0'>Telltale report: {_e(report.get('candidate', ''))}</h1>")
    d.add(f"<p style='color:#546e7a'>Analysed {_e(report.get('created_at', ''))} · report version {_e(report.get('version', ''))}</p>")
    d.add("<table cellpadding='10' cellspacing='0'><tr>")
    d.add(f"<td style='background:{colour}; color:white;' align='center'>"
          f"<span style='font-size:30pt; font-weight:bold'>{score:.0f}</span><br>"
          f"<span style='font-size:13pt'>{_e(engine.verdict_label(verdict))}</span></td>" if score is not None else "<td>–</td>")
    conf = engine.finite(report.get("confidence"))
    d.add("<td valign='top'>Score out of 100: 100 means no sign of manipulation was found."
          + (f"<br>Evidence coverage: {conf:.0%}" if conf is not None else "") + "</td></tr></table>")
    reasons = report.get("reasons") or []
    if reasons:
        d.add("<h2>Why</h2><ul>" + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>")

    checks = report.get("checks") or {}
    contributions = report.get("contributions") or {}
    if checks:
        d.add("<h2>Checks</h2><table border='1' cellspacing='0' cellpadding='4' width='100%'>"
              "<tr style='background:#eceff1'><th>Check</th><th>Risk</th><th>Confidence</th><th>Points off</th><th>Reason</th></tr>")
        for name, c in checks.items():
            risk = engine.finite(c.get("risk")) or 0.0
            cf = engine.finite(c.get("confidence")) or 0.0
            off = engine.finite(contributions.get(name)) or 0.0
            cell = (f"<td align='center' style='color:white; background:{engine.risk_colour(risk)}'>{risk:.2f}</td>"
                    if cf > 0 else "<td align='center'>n/a</td>")
            d.add(f"<tr><td>{_e(engine.check_title(name))}</td>{cell}<td align='center'>{cf:.0%}</td>"
                  f"<td align='center'>{off:.1f}</td><td>{_e(c.get('summary', ''))}</td></tr>")
        d.add("</table>")

    media = report.get("media") or []
    if media:
        d.add("<h2>Files</h2><table border='1' cellspacing='0' cellpadding='4' width='100%'>"
              "<tr style='background:#eceff1'><th>File</th><th>Kind</th><th>Result</th></tr>")
        for m in media:
            if m.get("error"):
                result = f"<span style='color:#c62828'>Could not be used: {_e(m['error'])}</span>"
            elif m.get("kind") == "video":
                result = (f"{engine.finite(m.get('duration_s')) or 0:.1f} s, {m.get('frames_analysed', 0)} frames analysed, "
                          f"face in {m.get('faces_found', 0)}")
            else:
                result = f"{m.get('faces_found', 0)} face(s)"
            d.add(f"<tr><td>{_e(Path(str(m.get('path', ''))).name)}</td><td>{_e(m.get('kind', ''))}</td><td>{result}</td></tr>")
        d.add("</table>")

    voice = engine.voice_evidence(report)
    if voice is not None:
        d.add(voice_html(voice))

    for rec in engine.recording_evidence(report):
        d.add(f"<h2>Recording: {_e(Path(rec.path).name)}</h2>")
        d.add("<p>" + d.image(timeline_image(rec, TIMELINE_PX), TIMELINE_PX) + "</p>")
        d.add("<p style='color:#546e7a; font-size:8pt'>Red: face-swap risk per second. Blue: lip-sync offset. "
              "Orange: lip-sync mismatch segments. Purple ticks: the frames below. "
              "Green/brown: mouth opening and voice energy. Dark grey line: face distance to the ID photo (dashed: same-person limit). "
              "Indigo/pink bar over the time axis: the candidate's voice excerpt / where a second voice speaks.</p>")
        shown = engine.suspicious_frames(rec, TOP_FRAMES_IN_PDF)
        if shown:
            d.add("<table cellpadding='4'><tr>")
            for i, f in enumerate(shown):
                if i and i % 3 == 0:
                    d.add("</tr><tr>")
                imgs = "".join(d.image(_b64_image(f[k]), 90) for k in ("face_png", "heatmap_png") if f.get(k))
                t = engine.finite(f.get("t"))
                what = " (CLIP probe: where the face reads swapped)" if f.get("model") == "clip" else ""
                d.add(f"<td align='center'>{imgs}<br>{f'{t:.1f} s' if t is not None else ''}{what}</td>")
            d.add("</tr></table>")

    faces = engine.face_thumbnails(report)
    photos = [str(engine.row_get(r, "path")) for r in (media_rows or []) if engine.row_get(r, "role") in ("id", "photo")]
    if faces or photos:
        d.add("<h2>Faces</h2><table cellpadding='4'><tr>")
        for p in photos[:3]:
            img = QImage(p)
            if not img.isNull():
                img = img.scaledToWidth(240)
            d.add(f"<td align='center'>{d.image(img, 110)}<br>{_e(Path(p).name)}</td>")
        for label, b64 in faces[:5]:
            d.add(f"<td align='center'>{d.image(_b64_image(b64), 110)}<br>{_e(_face_label(label))}</td>")
        d.add("</tr></table>")

    matches = engine.reuse_matches(report)
    if matches:
        d.add("<h2>Matches with other candidates</h2><ul>")
        for m in matches[:12]:
            dist = engine.finite(m.get("distance"))
            d.add(f"<li>{_e(m.get('candidate', '?'))}: {_e(m.get('kind', ''))} "
                  f"{_e(Path(str(m.get('file', ''))).name)}" + (f", distance {dist:.2f}" if dist is not None else "") + "</li>")
        d.add("</ul>")
    errors = report.get("errors") or []
    if errors:
        d.add("<h2>Files that could not be used</h2><ul>" + "".join(f"<li>{_e(e)}</li>" for e in errors) + "</ul>")
    d.add("<p style='color:#78909c; font-size:8pt'>Generated by Telltale. The score supports a reviewer's judgement; "
          "it is not proof on its own.</p></body></html>")
    return "".join(d.parts), d.images


def voice_html(ev: engine.VoiceEvidence) -> str:
    """The voice check's section: the finding, the bars, the distances, where to listen."""
    out = [f"<h2>Voice</h2><p><b>{_e(ev.summary or 'The voice check gave no summary.')}</b>"]
    if ev.risk is not None and ev.confidence:
        out.append(f" (risk {ev.risk:.2f}, confidence {ev.confidence:.0%}{', decisive' if ev.decisive else ''})")
    out.append("</p>")
    bars = []
    if ev.different is not None:
        bars.append(f"different people at or above {ev.different:.2f}")
    if ev.same is not None:
        bars.append(f"the same voice at or below {ev.same:.2f} (decisive under another candidate's name)")
    out.append("<p style='color:#546e7a; font-size:8pt'>Voice distance: the cosine distance between two voice prints "
               "(0 = identical, 1 = unrelated)" + (": " + "; ".join(bars) if bars else "") + ".</p>")
    head = "<table border='1' cellspacing='0' cellpadding='4' width='100%'><tr style='background:#eceff1'>"
    if ev.pairs:
        out.append(head + "<th>Recording</th><th>Recording</th><th>Voice distance</th><th>Reading</th><th>Confidence</th></tr>")
        for p in ev.pairs:
            words, level = ev.pair_reading(p.distance)
            colour = {"high": "#c62828", "some": "#b26a00"}.get(level, "#2e7d32")
            out.append(f"<tr><td>{_e(p.a)}</td><td>{_e(p.b)}</td><td align='center' style='color:white; background:{colour}'>"
                       f"{p.distance:.2f}</td><td>{_e(words)}</td><td align='center'>"
                       f"{'—' if p.confidence is None else f'{p.confidence:.0%}'}</td></tr>")
        out.append("</table>")
    if ev.matches:
        out.append("<p>The same voice under another name:</p>" + head
                   + "<th>Other candidate</th><th>Their recording</th><th>Voice distance</th><th>Their speech</th>"
                   "<th>This candidate's recording</th></tr>")
        for m in ev.matches:
            their = m.file + (f" ({m.their_excerpt[0]:.1f}–{m.their_excerpt[1]:.1f} s)" if m.their_excerpt else "")
            out.append(f"<tr><td>{_e(m.who)}</td><td>{_e(their)}</td><td align='center'>{m.distance:.2f}</td>"
                       f"<td align='center'>{'—' if m.speech_s is None else f'{m.speech_s:.1f} s'}</td><td>{_e(m.recording)}</td></tr>")
        out.append("</table>")
    for c in ev.changes:
        spans = ", ".join(f"{a:.1f}–{b:.1f} s" for a, b in engine.merge_spans(c.segments))
        out.append(f"<p>A second voice in {_e(c.recording)}" + (f" (distance {c.distance:.2f})" if c.distance is not None else "")
                   + f": {_e(c.verdict)}" + (f"; it speaks at {spans}" if spans else "") + ".</p>")
    listen = [f"{_e(r.name)} {r.excerpt[0]:.1f}–{r.excerpt[1]:.1f} s" for r in ev.recordings if r.excerpt]
    if listen:
        out.append("<p style='font-size:9pt'>To hear the candidate's voice (longest stretch of speech): "
                   + "; ".join(listen) + ".</p>")
    return "".join(out)


def _face_label(label: str) -> str:
    """"identity: id_face_png" -> "ID photo face"; "faceswap: top_frames.0.face_png" -> "interview"."""
    key = label.split(": ", 1)[-1].lower()
    if key.startswith("id_") or "portrait" in key:
        return "ID photo face"
    if "top_frames" in key:
        return "interview"
    return key.replace("_png", "").replace("_", " ")


def export_pdf(report: dict[str, Any], path: str | Path, media_rows: list[Any] | None = None) -> Path:
    """Write the report as a PDF (A4), owner-only (0600): it shows the candidate's face.

    The PDF is rendered in memory and written with ``privacy.write_private`` (a 0600 file renamed
    into place), so it is never readable by others, not even while it is being written."""
    body, images = report_html(report, media_rows)
    return _write_pdf(body, images, path, f"Telltale report: {report.get('candidate', '')}")


def comparison_html(columns: list[tuple[str, dict[str, Any] | None, list[str], list[str]]],
                    distances: list[tuple[str, ...]]) -> tuple[str, dict[str, QImage]]:
    """Candidates side by side (name, face, score, verdict, each check's risk) and the face distances.
    ``columns``: (name, report, photo paths, interview face crops as base64 PNG)."""
    d = _Doc()
    d.add("<html><body style='font-family: sans-serif; font-size: 9pt;'>")
    d.add(f"<h1>Telltale comparison of {len(columns)} candidates</h1>")
    checks: list[str] = []
    for _n, rep, _p, _c in columns:
        for name in ((rep or {}).get("checks") or {}):
            if name not in checks:
                checks.append(name)
    per_row = 4  # candidates per table row: A4 width
    for start in range(0, len(columns), per_row):
        chunk = columns[start:start + per_row]
        d.add("<table border='1' cellspacing='0' cellpadding='4' width='100%'><tr style='background:#eceff1'><th></th>")
        d.add("".join(f"<th>{_e(n)}</th>" for n, _r, _p, _c in chunk) + "</tr><tr><td>Face</td>")
        for _n, _r, photos, crops in chunk:
            img = QImage(photos[0]) if photos else (_b64_image(crops[0]) if crops else None)
            if img is not None and not img.isNull():
                img = img.scaledToWidth(200)
            d.add(f"<td align='center'>{d.image(img, 90)}</td>")
        d.add("</tr><tr><td>Score</td>")
        for _n, rep, _p, _c in chunk:
            score = engine.finite((rep or {}).get("score"))
            colour = engine.verdict_colour((rep or {}).get("verdict"))
            d.add(f"<td align='center' style='color:white; background:{colour}'><b>{score:.0f}</b> "
                  f"{_e(engine.verdict_label((rep or {}).get('verdict')))}</td>" if score is not None else "<td align='center'>not analysed</td>")
        d.add("</tr>")
        for check in checks:
            d.add(f"<tr><td>{_e(engine.check_title(check))}</td>")
            for _n, rep, _p, _c in chunk:
                c = ((rep or {}).get("checks") or {}).get(check)
                if not c:
                    d.add("<td align='center'>—</td>")
                    continue
                risk = engine.finite(c.get("risk")) or 0.0
                cf = engine.finite(c.get("confidence")) or 0.0
                d.add(f"<td align='center' style='color:{engine.risk_colour(risk) if cf > 0 else '#78909c'}'>"
                      f"{f'{risk:.2f}' if cf > 0 else 'n/a'}</td>")
            d.add("</tr>")
        d.add("</table><br>")
    if distances:
        d.add("<h2>Face distance between candidates</h2><table border='1' cellspacing='0' cellpadding='4' width='100%'>"
              "<tr style='background:#eceff1'><th>Candidates</th><th>Closest face distance</th><th>Faces compared</th><th>Reading</th></tr>")
        for row in distances:
            d.add("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>")
        d.add("</table><p style='color:#546e7a'>dlib face embedding distance: below 0.6 usually means the same person.</p>")
    d.add("<p style='color:#78909c; font-size:8pt'>Generated by Telltale. The scores support a reviewer's judgement; "
          "they are not proof on their own.</p></body></html>")
    return "".join(d.parts), d.images


def comparison_pdf(columns: list[tuple[str, dict[str, Any] | None, list[str], list[str]]],
                   distances: list[tuple[str, ...]], path: str | Path) -> Path:
    """Write the comparison as a PDF (A4), owner-only (0600)."""
    body, images = comparison_html(columns, distances)
    return _write_pdf(body, images, path, f"Telltale comparison of {len(columns)} candidates")


def _write_pdf(body: str, images: dict[str, QImage], path: str | Path, title: str) -> Path:
    from detectors.privacy import write_private

    p = Path(path)
    doc = QTextDocument()
    for name, img in images.items():
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), img)
    doc.setHtml(body)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(PDF_RESOLUTION)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM), QPageLayout.Unit.Millimeter)
    writer.setTitle(title)
    writer.setCreator("Telltale")
    layout = writer.pageLayout()
    rect = layout.paintRectPixels(PDF_RESOLUTION)
    doc.setPageSize(QSizeF(rect.width(), rect.height()))
    doc.print_(writer)
    del writer  # finishes the PDF in the buffer
    data = bytes(buffer.data())
    buffer.close()
    if not data.startswith(b"%PDF"):
        raise OSError("the PDF could not be rendered")
    return write_private(p, data)
