"""The voice check's evidence: who speaks in the candidate's recordings.

Two views of the same finding (``engine.voice_evidence``):

* :class:`VoicePanel`, the candidate page's Voice tab: the verdict sentence, the candidate's voice
  in each recording with an excerpt to look at, recording-against-recording distances with the
  bars they are read against, a second voice within a recording (where it speaks), and the same
  voice under another candidate's name in the library (when the report has such matches).
* :class:`VoiceBox`, beside the player in the Recordings tab (above the suspicious frames, so the
  player and the timeline keep their height on a laptop screen): this recording's voice, its
  distances, and buttons that move the player to the excerpt or to the second voice.
The timeline (desktop/timeline.py) marks the same excerpt and second voice over its time axis.

The player has no sound (PySide6-Essentials ships no QtMultimedia): the buttons show the moment
so the reviewer can watch the lips, and say so where one would expect to hear something.
Every number carries its explanation (tooltip or a line of text). Nothing here reads the report
directly: a missing key shows as "not reported", never as an error.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import engine
from .widgets import hint_label, section_title

NO_SOUND = "no sound in this player"
NO_SOUND_LONG = ("The player shows pictures only (no sound: this build of the app has no audio output). Watch the lips "
                 "at this moment; to hear the voice, open the file in your usual media player at the same time.")
SEGMENT_BUTTONS = 5
"""Second-voice segments shown as buttons in a table row; the rest are listed in its tooltip."""
MIN_SPEECH_S = 2.0
"""Below this much of the candidate's speech a recording gets no voice print (detectors/voice_check.py)."""
try:  # the check's own constant when it is there (the app must not fail without it)
    from detectors.voice_check import MIN_SPEECH_S  # type: ignore[no-redef]  # noqa: F811
except Exception:  # noqa: BLE001
    pass

LEVEL_COLOURS = {"high": "#c62828", "some": "#b26a00", "low": "#2e7d32", "none": "#607d8b"}
RISK_TIP = ("Risk: 0 = nothing suspicious about the voices, 1 = certain (the check's own reading; the score weighs it "
            "with its confidence).")
FULL_SPEECH_S = 8.0
"""Seconds of the candidate's speech in each print for a full-confidence comparison (the setting's default)."""
try:
    from detectors.voice_check import FULL_SPEECH as _FULL

    FULL_SPEECH_S = _FULL.default
except Exception:  # noqa: BLE001
    pass
DISTANCE_TIP = ("Voice distance: the cosine distance between two voice prints (the GE2E speaker encoder's 256-number "
                "summary of a voice; 0 = identical prints, 1 = unrelated).")


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    return f"{int(m)}:{s:04.1f}" if m else f"{s:.1f} s"


def span(a: float, b: float) -> str:
    return f"{_clock(a)}–{_clock(b)}" if a >= 60 or b >= 60 else f"{a:.1f}–{b:.1f} s"


def bars_text(ev: engine.VoiceEvidence) -> str:
    """The bars the distances are read against, in words."""
    parts = []
    if ev.different is not None:
        parts.append(f"at or above {ev.different:.2f}: different people (two of the candidate's recordings that far apart "
                     f"suggest a proxy interview; some risk from {ev.different - engine.VOICE_NEAR_BAR:.2f})")
    if ev.same is not None:
        parts.append(f"at or below {ev.same:.2f}: the same voice (under another candidate's name that is decisive, "
                     "like a reused face)")
    if ev.different is not None and ev.same is not None:
        parts.append(f"between {ev.same:.2f} and {ev.different:.2f} the check claims neither")
    return "; ".join(parts)


def confidence_tip(conf: float | None) -> str:
    if conf is None:
        return ""
    return (f"Confidence {conf:.0%}: how much speech stood behind the comparison (full confidence needs about "
            f"{FULL_SPEECH_S:g} s of the candidate's speech in each print; less speech, noisier prints).")


def _table(headers: list[str], stretch: int | None = None) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setMinimumSectionSize(30)  # room for the buttons some rows hold
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    t.setWordWrap(True)
    hh = t.horizontalHeader()
    for col in range(len(headers)):
        hh.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
    hh.setSectionResizeMode(len(headers) - 1 if stretch is None else stretch, QHeaderView.ResizeMode.Stretch)
    hh.setMinimumSectionSize(40)
    t.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
    t.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    t.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return t


def _item(text: str, tip: str = "", level: str | None = None, centre: bool = False) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    if tip:
        it.setToolTip(tip)
    if level is not None:
        it.setBackground(QColor(LEVEL_COLOURS.get(level, LEVEL_COLOURS["none"])))
        it.setForeground(QColor("white"))
    if centre:
        it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    return it


HEADER_TIPS = {
    "Voice distance": DISTANCE_TIP,
    "Confidence": "How much speech stood behind the comparison (100% = enough in both prints).",
    "Reading": "What the distance means against the check's bars (see the line under the verdict).",
    "Candidate's speech": "Seconds of speech in the candidate's voice print for this recording.",
    "All speech": "Seconds of speech heard in the recording, every voice together.",
    "Voices heard": "Distinct voices heard in the recording (an interviewer makes two).",
    "Their speech": "Seconds of speech behind the other candidate's stored voice print.",
    "Its speech": "Seconds of speech in the second voice.",
    "Where it speaks": "The stretches where the second voice speaks: click one to see it in the player (no sound).",
    "Excerpt to watch (no sound)": "The candidate's longest stretch of speech: click to see it in the player. " + NO_SOUND_LONG,
}


def _header_tips(t: QTableWidget) -> None:
    for col in range(t.columnCount()):
        item = t.horizontalHeaderItem(col)
        if item is not None and item.text() in HEADER_TIPS:
            item.setToolTip(HEADER_TIPS[item.text()])


def _fit_height(t: QTableWidget) -> None:
    """A table exactly as tall as its rows (it sits in the tab's scroll area, never scrolls itself)."""
    t.resizeRowsToContents()
    h = t.horizontalHeader().height() + 2 * t.frameWidth()
    h += sum(t.rowHeight(r) for r in range(t.rowCount()))
    t.setFixedHeight(h + 2)


class VoicePanel(QWidget):
    """The Voice tab. ``seekRequested(recording file name, t)``: show that moment in the player.

    Sections, most telling first: the verdict with how to read the distances; recording against
    recording; the same voice under another name (first when the library found it: decisive); a
    second voice within a recording; the candidate's voice in each recording (with the excerpt to
    watch). An empty table is hidden and a line says why it is empty. Column headers explain
    their numbers in tooltips, as the cells do."""

    seekRequested = Signal(str, float)  # noqa: N815 - Qt style

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evidence: engine.VoiceEvidence | None = None
        v = QVBoxLayout(self)
        v.setSpacing(4)
        v.addWidget(section_title("Voice: who speaks in the candidate's recordings"))
        self.verdict = QLabel()
        self.verdict.setObjectName("VoiceVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.verdict)
        self.verdict_hint = hint_label("")
        v.addWidget(self.verdict_hint)
        self.other_reasons = hint_label("")
        v.addWidget(self.other_reasons)

        self.pairs_title = section_title("Recording against recording")
        self.pairs_table = _table(["Recording", "Recording", "Voice distance", "Reading", "Confidence"], stretch=3)
        self.pairs_hint = hint_label("")
        self.matches_title = section_title("The same voice under another name")
        self.matches_table = _table(["Other candidate", "Their recording", "Voice distance", "Their speech",
                                     "This candidate's recording"], stretch=1)
        self.matches_hint = hint_label("")
        self.changes_title = section_title("A second voice within a recording")
        self.changes_table = _table(["Recording", "Voice distance", "Its speech", "Reading", "Where it speaks"], stretch=3)
        self.changes_hint = hint_label("")
        self.recordings_title = section_title("The candidate's voice in each recording")
        self.recordings_table = _table(["Recording", "Candidate's speech", "All speech", "Voices heard",
                                        "Excerpt to watch (no sound)"], stretch=0)
        self.recordings_hint = hint_label("")
        for t in (self.pairs_table, self.matches_table, self.changes_table, self.recordings_table):
            _header_tips(t)
        self.sections = [(self.pairs_title, self.pairs_table, self.pairs_hint),
                         (self.matches_title, self.matches_table, self.matches_hint),
                         (self.changes_title, self.changes_table, self.changes_hint),
                         (self.recordings_title, self.recordings_table, self.recordings_hint)]
        for widgets in self.sections:
            for w in widgets:
                v.addWidget(w)
        v.addStretch(1)
        self._layout = v
        self.set_evidence(None, analysed=False)

    # ------------------------------------------------------------------------ filling in
    def set_evidence(self, ev: engine.VoiceEvidence | None, analysed: bool = True, recordings: list[str] | None = None) -> None:
        """Show ``ev``. ``analysed``: the candidate has a report; ``recordings``: the file names of
        the recordings the report analysed (to name those too short for a voice print)."""
        self.evidence = ev
        for _title, table, hint in self.sections:
            table.setRowCount(0)
            hint.setText("")
        if ev is None:
            self.verdict.setText("<i>No voice finding yet.</i>")
            self.verdict_hint.setText("Analyse the candidate to compare the voices in their recordings."
                                      if not analysed else
                                      "The voice check did not report for this candidate (no recording was analysed, "
                                      "or the analysis predates the check): re-analyse to compare voices.")
            self.other_reasons.setText("")
        else:
            self._order(matches_first=bool(ev.matches))
            self._fill_verdict(ev)
            self._fill_pairs(ev)
            self._fill_matches(ev)
            self._fill_changes(ev)
            self._fill_recordings(ev, recordings or [])
        for title, table, hint in self.sections:
            table.setVisible(table.rowCount() > 0)
            hint.setVisible(bool(hint.text()))
            title.setVisible(ev is not None)
            _fit_height(table)
        for label in (self.verdict_hint, self.other_reasons):
            label.setVisible(bool(label.text()))

    def _order(self, matches_first: bool) -> None:
        """The same voice under another name is decisive: when the library found it, it comes first."""
        pairs, matches = self.sections[0], self.sections[1]
        at = min(self._layout.indexOf(self.pairs_title), self._layout.indexOf(self.matches_title))
        for w in (*pairs, *matches):
            self._layout.removeWidget(w)
        for i, w in enumerate((*matches, *pairs) if matches_first else (*pairs, *matches)):
            self._layout.insertWidget(at + i, w)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        for _title, table, _hint in self.sections:  # rows wrap differently at another width
            _fit_height(table)

    def _fill_verdict(self, ev: engine.VoiceEvidence) -> None:
        risk, conf = ev.risk, ev.confidence
        level = "none" if not conf else ("high" if (risk or 0) >= 0.67 else "some" if (risk or 0) >= 0.34 else "low")
        colour = LEVEL_COLOURS[level]
        sentence = _html(ev.summary or "The voice check gave no summary.")
        numbers = []
        if risk is not None and conf:
            numbers.append(f"risk {risk:.2f}")
        if conf is not None:
            numbers.append(f"confidence {conf:.0%}" if conf else "could not judge")
        if ev.decisive:
            numbers.append("decisive")
        self.verdict.setText(f"<span style='font-size:12pt; font-weight:600; color:{colour}'>{sentence}</span>"
                             + (f" <span style='color:#546e7a'>({', '.join(numbers)})</span>" if numbers else ""))
        tip = [RISK_TIP]
        if conf is not None:
            tip.append(confidence_tip(conf) if conf else "Confidence 0: there was too little speech to compare voices.")
        if ev.decisive:
            tip.append("Decisive: the same voice under another candidate's name decides the verdict on its own.")
        self.verdict.setToolTip("\n".join(tip))
        lines = []
        if ev.different is not None or ev.same is not None:
            lines.append("How to read a voice distance (0 = identical voice prints, 1 = unrelated): " + bars_text(ev) + ".")
        if risk is not None and conf:
            lines.append(f"Risk {risk:.2f} of 1; confidence {conf:.0%}: how much speech stood behind the comparison "
                         f"(full with about {FULL_SPEECH_S:g} s of the candidate's speech in each recording).")
        self.verdict_hint.setText("\n".join(lines))
        others = [r for r in ev.reasons if r != ev.summary]
        for c in ev.changes:
            if not c.talking:
                how = "no face on screen" if c.mouth_activity[1] is None else "a still mouth"
                others.append(f"A second voice in {c.recording} comes with {how} (an interviewer?): set aside, "
                              "not compared with the candidate's.")
        self.other_reasons.setText("Also: " + " · ".join(others) if others else "")

    def _fill_recordings(self, ev: engine.VoiceEvidence, analysed: list[str]) -> None:
        t = self.recordings_table
        heard = {r.name for r in ev.recordings}
        short = [n for n in analysed if n not in heard]
        t.setRowCount(len(ev.recordings))
        for row, r in enumerate(ev.recordings):
            t.setItem(row, 0, _item(r.name, r.name))
            cs = r.candidate_speech_s
            t.setItem(row, 1, _item("—" if cs is None else f"{cs:.1f} s",
                                    "Seconds of speech in the candidate's voice print for this recording (the voice whose "
                                    "speech comes with the candidate's moving mouth; an interviewer's voice is set aside).",
                                    centre=True))
            t.setItem(row, 2, _item("—" if r.speech_s is None else f"{r.speech_s:.1f} s",
                                    "All speech heard in the recording, every voice together.", centre=True))
            t.setItem(row, 3, _item("—" if r.voices is None else str(r.voices),
                                    "Distinct voices heard in the recording (an interviewer on the call makes two).",
                                    centre=True))
            if r.excerpt is not None:
                a, b = r.excerpt
                button = QPushButton(f"Show {span(a, b)}")
                button.setToolTip(f"The candidate's longest stretch of speech in {r.name}, {a:.1f} s to {b:.1f} s: shows it "
                                  "in the Recordings tab. " + NO_SOUND_LONG)
                button.clicked.connect(lambda _=False, n=r.name, a=a: self.seekRequested.emit(n, a))
                t.setCellWidget(row, 4, _padded(button))
            else:
                t.setItem(row, 4, _item("no excerpt reported"))
        _widen_for_widgets(t, 4)
        lines = []
        if not ev.recordings:
            lines.append(f"No recording had {MIN_SPEECH_S:g} s or more of the candidate's speech: there is no voice to compare.")
        if short:
            lines.append(f"Not compared ({', '.join(short)}): less than {MIN_SPEECH_S:g} s of the candidate's speech, "
                         "or no audio track.")
        if ev.recordings:
            lines.append(f"The excerpt shows the moment in the player, {NO_SOUND}: watch whether the lips move with the "
                         "speech; to hear it, open the file in your usual media player.")
        self.recordings_hint.setText("\n".join(lines))

    def _fill_pairs(self, ev: engine.VoiceEvidence) -> None:
        t = self.pairs_table
        t.setRowCount(len(ev.pairs))
        proxy = False
        for row, p in enumerate(ev.pairs):
            words, level = ev.pair_reading(p.distance)
            proxy |= level == "high"
            t.setItem(row, 0, _item(p.a, p.a))
            t.setItem(row, 1, _item(p.b, p.b))
            bar = f" Different people at or above {ev.different:.2f}." if ev.different is not None else ""
            t.setItem(row, 2, _item(f"{p.distance:.2f}", f"{DISTANCE_TIP}{bar}", level=level, centre=True))
            d = ev.different
            reading = {"different people": f"different people (≥ {d:.2f}): a proxy interview?" if d else words,
                       "near the bar": f"close to the bar {d:.2f}: some risk" if d else words,
                       "one voice": f"one voice (below {d:.2f})" if d else words}[words]
            t.setItem(row, 3, _item(reading, bars_text(ev)))
            t.setItem(row, 4, _item("—" if p.confidence is None else f"{p.confidence:.0%}", confidence_tip(p.confidence),
                                    centre=True))
        if proxy:
            self.pairs_hint.setText("The candidate's voice differs between recordings: someone else may have sat one of "
                                    "the interviews. Watch the excerpts below and compare.")
        elif not ev.pairs and len(ev.recordings) == 1:
            self.pairs_hint.setText("Only one recording has enough speech: nothing to compare it with (add the candidate's "
                                    "other interviews to check that the same person speaks in each).")
        elif not ev.pairs:
            self.pairs_hint.setText("No two recordings could be compared.")

    def _fill_changes(self, ev: engine.VoiceEvidence) -> None:
        t = self.changes_table
        t.setRowCount(len(ev.changes))
        for row, c in enumerate(ev.changes):
            t.setItem(row, 0, _item(c.recording, c.recording))
            changed = c.talking and c.distance is not None and ev.different is not None and c.distance >= ev.different
            t.setItem(row, 1, _item("—" if c.distance is None else f"{c.distance:.2f}",
                                    DISTANCE_TIP + " Here: the second voice against the candidate's voice in the same recording.",
                                    level="high" if changed else None, centre=True))
            t.setItem(row, 2, _item("—" if c.other_speech_s is None else f"{c.other_speech_s:.1f} s",
                                    "Seconds of speech in the second voice.", centre=True))
            ca, oa = c.mouth_activity
            if oa is None:
                mouth = "\nNo face was seen while the second voice spoke."
            elif ca is not None:
                mouth = (f"\nMouth movement while each voice speaks (spread of the lip gap over the eye distance): the "
                         f"candidate's voice {ca:.3f}, the second voice {oa:.3f}. The second voice counts as the candidate's "
                         "own when the mouth moves at least half as much with it.")
            else:
                mouth = ""
            reading = c.verdict or ("the face talks with both voices" if c.talking else "an interviewer")
            t.setItem(row, 3, _item(reading, ("The candidate's face talks with both voices: the voice changes on one face."
                                              if c.talking else "The mouth stays still while the second voice speaks: an "
                                              "interviewer or someone off screen, not counted against the candidate.") + mouth))
            t.setCellWidget(row, 4, self._segment_buttons(c))
        _widen_for_widgets(t, 4)
        if ev.changes:
            self.changes_hint.setText("A change of voice on the candidate's own talking face is a sign; an interviewer's "
                                      f"voice (a still mouth) is not. The buttons show the moment in the player, {NO_SOUND}.")
        elif ev.recordings:
            self.changes_hint.setText("No second voice was heard within any recording.")

    def _segment_buttons(self, c: engine.VoiceChange) -> QWidget:
        w = QWidget()
        h = QHBoxLayout(w)
        h.setContentsMargins(2, 1, 2, 1)
        h.setSpacing(3)
        spans = engine.merge_spans(c.segments)
        for a, b in spans[:SEGMENT_BUTTONS]:
            btn = QPushButton(span(a, b))
            btn.setObjectName("SegmentButton")
            btn.setToolTip(f"The second voice speaks from {a:.1f} s to {b:.1f} s in {c.recording}: show it in the player. "
                           + NO_SOUND_LONG)
            btn.clicked.connect(lambda _=False, n=c.recording, a=a: self.seekRequested.emit(n, a))
            h.addWidget(btn)
        rest = spans[SEGMENT_BUTTONS:]
        if rest:
            more = QLabel(f"+{len(rest)} more")
            more.setToolTip("Also: " + ", ".join(span(a, b) for a, b in rest))
            h.addWidget(more)
        if not spans:
            h.addWidget(QLabel("not reported"))
        h.addStretch(1)
        return w

    def _fill_matches(self, ev: engine.VoiceEvidence) -> None:
        t = self.matches_table
        t.setRowCount(len(ev.matches))
        for row, m in enumerate(ev.matches):
            same = ev.same is not None and m.distance <= ev.same
            t.setItem(row, 0, _item(m.who, ("Another candidate in the library" if m.candidate else
                                            "An entry of an imported collection (known fakes, a watchlist)")))
            their = m.file or "—"
            if m.their_excerpt is not None:
                their += f" (speaks {span(*m.their_excerpt)})"
            t.setItem(row, 1, _item(their, (m.path or "The library did not name their recording.")
                                    + ("\nTheir voice can be heard there from "
                                       f"{m.their_excerpt[0]:.1f} s to {m.their_excerpt[1]:.1f} s." if m.their_excerpt else "")))
            t.setItem(row, 2, _item(f"{m.distance:.2f}", DISTANCE_TIP + (f" The same voice at or below {ev.same:.2f}." if ev.same else ""),
                                    level="high" if same else "some", centre=True))
            t.setItem(row, 3, _item("—" if m.speech_s is None else f"{m.speech_s:.1f} s",
                                    "Seconds of speech behind their stored voice print (more speech, a surer match).",
                                    centre=True))
            t.setItem(row, 4, _item(m.recording or "—", "This candidate's recording whose voice matched"
                                    + (f" ({m.query_speech_s:.1f} s of the candidate's speech searched)." if m.query_speech_s is not None
                                       else ".")))
        skipped = (f" Not searched: {', '.join(ev.not_searched)} (a second voice there could not be told from the "
                   "candidate's by a moving mouth, so the print might be an interviewer's)." if ev.not_searched else "")
        if ev.matches:
            others = ev.other_candidates or sorted({m.candidate for m in ev.matches if m.candidate})
            self.matches_hint.setText("The library holds this voice under another name: the same person may be applying "
                                      "under several identities" + (f" (the same voice at or below {ev.same:.2f}: decisive, "
                                      "like a reused face)." if ev.same is not None else ".")
                                      + (f" Names: {', '.join(others)}." if len(others) > 1 else "") + skipped)
        elif ev.recordings and set(ev.not_searched) >= {r.name for r in ev.recordings}:
            self.matches_hint.setText(skipped.strip().replace("Not searched:", "The library's voices were not searched for", 1))
        elif ev.library_searched is False:
            self.matches_hint.setText("The library's voices were not searched for this analysis (no library open).")
        elif ev.library_searched:
            self.matches_hint.setText("No voice in the library under another name is within "
                                      + (f"{ev.same:.2f} " if ev.same is not None else "the same-voice bar ")
                                      + "of this candidate's voice." + skipped)
        else:
            self.matches_hint.setText("This report names no other candidate with this voice.")


def _widen_for_widgets(t: QTableWidget, col: int) -> None:
    """Columns with buttons in them: as wide as the widest button row (Qt sizes columns by text only)."""
    widths = [t.cellWidget(r, col).sizeHint().width() for r in range(t.rowCount()) if t.cellWidget(r, col) is not None]
    if widths:
        t.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        t.horizontalHeader().resizeSection(col, max(max(widths) + 6, t.horizontalHeader().sectionSizeHint(col)))


def _padded(w: QWidget) -> QWidget:
    holder = QWidget()
    h = QHBoxLayout(holder)
    h.setContentsMargins(2, 1, 2, 1)
    h.addWidget(w)
    h.addStretch(1)
    return holder


def _html(text: str) -> str:  # noqa: D103
    import html

    return html.escape(text)


class VoiceBox(QFrame):
    """This recording's voice, beside the player (top of the frames column): a few lines (the
    distances first), a button to the candidate's voice excerpt, a menu of the second voice's
    stretches, and "no sound". ``seekRequested(t)`` moves the player. Its height never changes,
    so nothing below it moves when another recording is shown."""

    seekRequested = Signal(float)  # noqa: N815
    detailsRequested = Signal()  # noqa: N815 - open the Voice tab

    LINES = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("VoiceBox")
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 4)
        v.setSpacing(3)
        head = QHBoxLayout()
        title = section_title("Voice")
        title.setToolTip("What the voice check heard in this recording; the Voice tab has every recording.")
        head.addWidget(title, 1)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Open the Voice tab: every recording's voice, the distances and the bars they are read against")
        self.details_button.clicked.connect(self.detailsRequested)
        head.addWidget(self.details_button)
        v.addLayout(head)
        self.label = _ResizingLabel(self._render)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.label.setFixedHeight(self.label.fontMetrics().lineSpacing() * self.LINES + 4)
        v.addWidget(self.label)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.excerpt_button = QPushButton("Excerpt")
        self.excerpt_button.clicked.connect(self._to_excerpt)
        row.addWidget(self.excerpt_button)
        self.second_button = QToolButton()
        self.second_button.setText("Second voice")
        self.second_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.second_menu = QMenu(self.second_button)
        self.second_button.setMenu(self.second_menu)
        row.addWidget(self.second_button)
        row.addStretch(1)
        v.addLayout(row)
        self.no_sound = QLabel(f"Picture only: {NO_SOUND}.")
        self.no_sound.setObjectName("Hint")
        self.no_sound.setToolTip(NO_SOUND_LONG)
        v.addWidget(self.no_sound)
        self.excerpt: tuple[float, float] | None = None
        self.segments: list[tuple[float, float]] = []
        self.lines: list[tuple[str, str]] = []  # (text, level)
        self._tip = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.set_recording(None, None)

    @property
    def text(self) -> str:
        return "\n".join(t for t, _ in self.lines)

    def set_recording(self, ev: engine.VoiceEvidence | None, path: str | None, analysed: bool = False) -> None:
        """Show recording ``path`` of a candidate whose voice finding is ``ev``; ``analysed``: the
        candidate has a report (one without a voice finding predates the check, or heard nothing)."""
        self.excerpt, self.segments = None, []
        self.second_menu.clear()
        lines: list[tuple[str, str]] = []
        tips: list[str] = []
        rec = ev.recording(path) if ev is not None and path else None
        if path is None:
            lines.append(("No recording selected.", "none"))
        elif ev is None and analysed:
            lines.append(("No voice finding in this report:", "none"))
            lines.append(("re-analyse to compare voices.", "none"))
        elif ev is None:
            lines.append(("Not compared yet: analyse the candidate.", "none"))
        elif rec is None:
            lines += [(f"No voice print: under {MIN_SPEECH_S:g} s of the", "none"), ("candidate's speech (or no audio).", "none")]
            tips.append(f"The voice check compares recordings with at least {MIN_SPEECH_S:g} s of the candidate's speech.")
        else:
            for p in sorted(ev.pairs_with(path), key=lambda p: -p.distance):
                other = p.b if p.a == rec.name else p.a
                words, level = ev.pair_reading(p.distance)
                lines.append((f"{words.capitalize()} ({p.distance:.2f}) vs {other}", level))  # the name elides first
                tips.append(f"Voice distance {p.distance:.2f} to the candidate's voice in {other}: {words}"
                            + (f" (different people from {ev.different:.2f})." if ev.different is not None else "."))
            for m in ev.matches_of(path):
                lines.insert(0, (f"Same voice as {m.who} ({m.distance:.2f})", "high"))
                tips.append(f"The library holds this voice under {m.who}: distance {m.distance:.2f}"
                            + (f", {m.speech_s:.1f} s of their speech" if m.speech_s is not None else "")
                            + (f" (the same voice at or below {ev.same:.2f})." if ev.same is not None else "."))
            for c in ev.changes_in(path):
                self.segments += engine.merge_spans(c.segments)
                changed = c.talking and c.distance is not None and ev.different is not None and c.distance >= ev.different
                dist = f" ({c.distance:.2f})" if c.distance is not None else ""
                if c.talking:
                    words = f"Voice changes on the same face{dist}"
                elif c.mouth_activity[1] is None:
                    words = f"Second voice, no face with it{dist}"
                else:
                    words = f"Second voice, still mouth{dist}"
                lines.append((words, "high" if changed else "none"))
                tips.append(f"A second voice ({c.other_speech_s or 0:.1f} s of speech"
                            + (f", {c.distance:.2f} from the candidate's voice" if c.distance is not None else "")
                            + f"): {c.verdict}.")
            cs = rec.candidate_speech_s
            lines.append((f"{cs:.1f} s of the candidate's speech" if cs is not None else "The candidate's voice was heard", "none"))
            tips.append("Seconds of speech in the candidate's voice print for this recording (an interviewer's voice set aside).")
            if not ev.pairs_with(path) and not ev.matches_of(path):
                tips.append("No other recording of this candidate with enough speech to compare with.")
            self.excerpt = rec.excerpt
            tips.append(DISTANCE_TIP)
        if len(lines) > self.LINES:
            extra = len(lines) - self.LINES + 1
            lines = lines[: self.LINES - 1] + [(f"+{extra} more: see Details", "none")]
        self.lines = lines
        self._tip = "\n".join(t for t, _ in lines) + ("\n\n" + "\n".join(tips) if tips else "")
        self._render()
        if self.excerpt is not None:
            a, b = self.excerpt
            self.excerpt_button.setText(f"Excerpt {a:.1f} s")
            self.excerpt_button.setToolTip(f"Show the candidate's longest stretch of speech here ({a:.1f} s to {b:.1f} s) "
                                           "in the player. " + NO_SOUND_LONG)
        else:
            self.excerpt_button.setText("Excerpt")
            self.excerpt_button.setToolTip("No excerpt of the candidate's voice was reported for this recording.")
        self.excerpt_button.setEnabled(self.excerpt is not None)
        for a, b in self.segments:
            act = self.second_menu.addAction(f"{span(a, b)}")
            act.setToolTip(f"The second voice speaks from {a:.1f} s to {b:.1f} s")
            act.triggered.connect(lambda _=False, a=a: self.seekRequested.emit(a))
        self.second_button.setVisible(bool(self.segments))
        self.second_button.setText(f"Second voice ({len(self.segments)})" if self.segments else "Second voice")
        self.second_button.setToolTip((f"Where a second voice speaks in this recording ({len(self.segments)} stretch(es)): "
                                       "choose one to show it in the player. " if self.segments else
                                       "No second voice was heard in this recording. ") + NO_SOUND_LONG)
        self.details_button.setEnabled(ev is not None)

    def _render(self) -> None:
        import html

        width = max(40, self.label.width() - 2)
        from PySide6.QtGui import QFont, QFontMetrics

        bold = QFont(self.label.font())
        bold.setBold(True)
        rows = []
        for text, level in self.lines:
            strong = level in ("high", "some")
            fm = QFontMetrics(bold) if strong else self.label.fontMetrics()
            short = fm.elidedText(text, Qt.TextElideMode.ElideRight, width)
            weight = "700" if strong else "400"
            rows.append(f"<span style='color:{LEVEL_COLOURS[level]}; font-weight:{weight}'>{html.escape(short)}</span>")
        self.label.setText("<br>".join(rows))
        self.label.setToolTip(self._tip)

    def _to_excerpt(self) -> None:
        if self.excerpt is not None:
            self.seekRequested.emit(self.excerpt[0])



class _ResizingLabel(QLabel):
    """A label that calls back when its own width changes (to elide its lines to that width)."""

    def __init__(self, on_resize: Any) -> None:
        super().__init__()
        self._on_resize = on_resize

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._on_resize()
