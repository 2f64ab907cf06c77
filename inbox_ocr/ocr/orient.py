"""Page orientation: the quarter turn that makes a page's text upright. Pure: no images.

Scanners feed pages sideways and upside down; read as they are, such pages come out as garbage
(issue 17). The engine (``inbox_ocr.ocr.rapidocr``) gives this module what it already has
after detection: the boxes of the page's text lines, and a line classifier's verdict ("0" or
"180", with its score) on a few of those lines cut out of the page.

- A page whose lines are mostly taller than wide is sideways: its crops are turned a quarter
  clockwise before they are classified, and the verdict tells 90 from 270.
- Otherwise the verdict tells 0 from 180.

Only a clear majority turns a page: an upright page is never turned on a split vote. The
classifier can still be wrong on a whole page, so its turn is checked: the recogniser reads
the same lines as the turn shows them and as the opposite turn would, and the better reading
wins (``confirmed``).

Tesseract (``inbox_ocr.ocr.tesseract``) has no line classifier: a page it reads with a low
mean word confidence (``worth_turning``) is read again turned, and the turned reading is kept
only when it is clearly better (``better``).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from inbox_ocr.ocr.api import mean_confidence
from inbox_ocr.records import Word

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

#: How a page is turned counter-clockwise by 90, 180 or 270 degrees (lossless).
TURNS = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
         270: Image.Transpose.ROTATE_270}

#: A line box at least this many times longer one way than the other has a direction.
ELONGATED = 1.5
#: Lines classified per page: the longest ones (more text, surer verdicts).
SAMPLE = 12
#: Share of the classifier's weight (scores summed) that must say "180" to turn the page.
FLIP_SHARE = 0.6
#: Fewer directed lines than this and the page is left as it is (a logo, a stamp).
MIN_LINES = 2


def is_sideways(boxes: Sequence[Box]) -> bool:
    """True when more of the directed lines run top to bottom than left to right."""
    tall = sum(1 for x0, y0, x1, y1 in boxes if (y1 - y0) >= ELONGATED * (x1 - x0))
    wide = sum(1 for x0, y0, x1, y1 in boxes if (x1 - x0) >= ELONGATED * (y1 - y0))
    return tall >= MIN_LINES and tall > wide


def sample(boxes: Sequence[Box], size: int = SAMPLE) -> list[Box]:
    """The ``size`` longest directed boxes, to be cut out and classified."""
    directed = [b for b in boxes if max(b[2] - b[0], b[3] - b[1])
                >= ELONGATED * min(b[2] - b[0], b[3] - b[1])]
    return sorted(directed, key=lambda b: -max(b[2] - b[0], b[3] - b[1]))[:size]


def turn(sideways: bool, verdicts: Sequence[tuple[str, float]]) -> int:
    """Degrees to turn the page counter-clockwise (0, 90, 180 or 270) so its text is upright.

    ``verdicts``: the classifier's ``(label, score)`` on the sampled lines, cut out upright
    for a page that is not sideways and turned a quarter clockwise for one that is.
    """
    weight = sum(score for _label, score in verdicts)
    flipped = sum(score for label, score in verdicts if label == "180")
    if sideways:
        # A sideways page is turned one way or the other, by the larger weight. Crops turned
        # clockwise read upright: the page needs that clockwise quarter (270
        # counter-clockwise); they read upside down: it needs the other one.
        return 90 if flipped > weight / 2 else 270
    upside_down = len(verdicts) >= MIN_LINES and weight > 0 and flipped >= FLIP_SHARE * weight
    return 180 if upside_down else 0


def confirmed(degrees: int, turned: Sequence[float], opposite: Sequence[float]) -> int:
    """The classifier's turn, checked by the recogniser: ``turned`` and ``opposite`` are its
    scores on the sampled lines as that turn shows them and as the opposite turn (half a
    page further) would. The opposite wins only when it reads better on average: then an
    upside-down verdict leaves the page as it is, and a sideways one turns it the other
    quarter."""
    if not turned or not opposite or sum(turned) / len(turned) >= sum(opposite) / len(opposite):
        return degrees
    return (degrees + 180) % 360


#: Tesseract: a page read with a mean word confidence (0-100) below this is tried turned.
#: Measured: pages scanned at 90/180/270 degrees read at 39-41 (issue 17); upright receipts
#: at 88-99 with the default engine (Tesseract's own upright figures were not measured).
RETRY_CONFIDENCE = 70.0
#: Tesseract's OSD ``orient_conf`` from which its proposed turn is the only one tried; below,
#: all three are (its verdicts on receipts were wrong at 0.5-1.0, right at 6-8 on invoices).
OSD_SURE = 2.0
#: How much higher (points of mean confidence) a turned reading must be to be kept.
MARGIN = 15.0


def worth_turning(words: Sequence[Word]) -> bool:
    mean = mean_confidence(words)
    return mean is None or mean < RETRY_CONFIDENCE


def better(turned: Sequence[Word], scanned: Sequence[Word]) -> bool:
    """True when the turned reading is clearly better than the one as scanned: read well
    (a mean confidence of at least ``RETRY_CONFIDENCE``), ``MARGIN`` above the other, over at
    least half as many characters. A page read as nothing is never replaced by garbage."""
    new, old = mean_confidence(turned), mean_confidence(scanned)
    if new is None or new < RETRY_CONFIDENCE:
        return False
    chars_new = sum(len(w.text) for w in turned)
    chars_old = sum(len(w.text) for w in scanned)
    return (old is None or new >= old + MARGIN) and 2 * chars_new >= chars_old
