"""Lone colons between a label and its value, which the text detector never boxes.

Receipts print ``Total     :     12.00`` with the colon in a column of its own. RapidOCR's
detector finds the label and the amount but not the colon: two dots are too small for a text
region (lowering its thresholds or enlarging the page found no more of them on five
sroie-train receipts). The page image still has them, so ``lone_colons`` looks for them where
they must be: in the gap between two regions on one row, as exactly two small dark blobs of
like size stacked one above the other and nothing else there. Each one found becomes a
one-glyph region that ``layout.assemble`` places like any other.

``lone_colons`` is a pure function of blob and region boxes; ``dark_blobs`` is the thin OpenCV
adapter that finds the blobs of a page.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence

from PIL import Image

from inbox_ocr.ocr.layout import Glyph, Region, rows

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

# Confidence given to a colon found this way: it is not a recogniser's score, and low enough
# that a reader of `pages[].words` can tell it apart from a word read at 99.
CONFIDENCE = 0.9
# Shares of the row's median line height:
MIN_GAP = 0.3       # a narrower gap between two regions is a word space, not a column
MAX_DOT = 0.35      # a dot is at most this wide and high
MIN_BLOB = 0.06     # a blob smaller than this (both ways) is speckle and ignored
MAX_OFFSET = 0.2    # the two dots' centres are at most this far apart horizontally
MIN_SPAN, MAX_SPAN = 0.3, 1.0  # the colon's height, top of one dot to bottom of the other
SLACK = 0.2         # blobs may stick out of the row's box by this much
MAX_AREA_RATIO = 2.5  # one dot's box is at most this many times the other's


def lone_colons(blobs: Sequence[Box], regions: Sequence[Region]) -> list[Region]:
    """A colon region for each gap between two regions of a row that holds a colon and nothing
    else: two blobs of like size, one above the other, together a colon's height."""
    by_x = sorted(blobs)
    starts = [b[0] for b in by_x]
    found: list[Region] = []
    for row in rows(list(regions)):
        height = statistics.median(r.y1 - r.y0 for r in row)
        if height <= 0:
            continue
        for left, right in itertools.pairwise(row):
            gap_x0, gap_x1 = left.x1, right.x0
            if gap_x1 - gap_x0 < MIN_GAP * height:
                continue
            top = min(left.y0, right.y0) - SLACK * height
            bottom = max(left.y1, right.y1) + SLACK * height
            inside = within(by_x, starts, (gap_x0, top, gap_x1, bottom), height)
            colon = _colon(inside, height)
            if colon:
                found.append(colon)
    return found


def within(by_x: Sequence[Box], starts: Sequence[float], area: Box, height: float
           ) -> list[Box]:
    """The blobs of ``by_x`` (sorted; ``starts`` are their left edges) lying wholly inside
    ``area``, speckle smaller than ``MIN_BLOB`` of a line ``height`` high left out."""
    x0, y0, x1, y1 = area
    return [b for b in by_x[bisect.bisect_left(starts, x0):bisect.bisect_right(starts, x1)]
            if b[2] <= x1 and b[1] >= y0 and b[3] <= y1
            and max(b[2] - b[0], b[3] - b[1]) >= MIN_BLOB * height]


def _colon(blobs: list[Box], height: float) -> Region | None:
    if len(blobs) != 2:
        return None
    upper, lower = sorted(blobs, key=lambda b: b[1])
    if any(b[2] - b[0] > MAX_DOT * height or b[3] - b[1] > MAX_DOT * height for b in blobs):
        return None
    areas = sorted(max(1.0, (b[2] - b[0]) * (b[3] - b[1])) for b in blobs)
    if areas[1] > MAX_AREA_RATIO * areas[0]:
        return None
    if abs((upper[0] + upper[2]) - (lower[0] + lower[2])) / 2 > MAX_OFFSET * height:
        return None
    span = lower[3] - upper[1]
    if lower[1] <= upper[3] or not MIN_SPAN * height <= span <= MAX_SPAN * height:
        return None
    x0, x1 = min(upper[0], lower[0]), max(upper[2], lower[2])
    return Region(x0, upper[1], x1, lower[3], (Glyph(":", x0, x1, CONFIDENCE),))


def dark_blobs(image: Image.Image) -> list[Box]:
    """Boxes of the page's dark connected components (Otsu threshold), speckle of one or two
    pixels left out."""
    import cv2
    import numpy as np

    gray = np.asarray(image.convert("L"))
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _labels, stats, _centres = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = stats[1:count]
    keep = keep[np.maximum(keep[:, 2], keep[:, 3]) >= 3]
    return [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h, _area in keep]
