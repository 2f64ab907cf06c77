"""Image preparation before OCR: grayscale, upscaling small text, optional deskew and denoise.

``prepare(image, steps)`` is a pure function of the image and a ``Prep`` (built from the
``[ocr]`` settings). It runs on the OCR worker thread, before the engine, and returns a new
image, or the input itself when no step changed it (the input is never modified), and what it
did (for the benchmark and debugging).

Upscaling is driven by the text, not the file's DPI tag: scanners and phone pictures often
carry no tag or a wrong one (most SROIE receipts say 1x1 dpi). The height of the page's text
lines is measured from the row profile of dark pixels and compared with the height that
text of ordinary print size (about 0.1 inch of ink per line, 9-10 pt type) has at
``ocr.upscale_dpi``. The upscaled page never exceeds the pixel cap (``limits.max_page_megapixels``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

# Ink height of one line of ordinary print (cap height plus descenders of 9-10 pt type).
TEXT_LINE_INCH = 0.1
MAX_SCALE = 4.0
# Enlarging by less than this gains nothing measurable and costs OCR time.
MIN_SCALE = 1.25
DESKEW_MAX_DEGREES = 5.0
DESKEW_STEP_DEGREES = 0.5


@dataclass(frozen=True)
class Prep:
    """Which steps run. ``upscale_dpi = 0`` turns upscaling off; ``max_pixels`` caps it."""

    grayscale: bool = True
    upscale_dpi: int = 0
    deskew: bool = False
    denoise: bool = False
    max_pixels: int = 100_000_000

    @property
    def label(self) -> str:
        steps = [name for name, on in (("gray", self.grayscale), ("deskew", self.deskew),
                                       ("denoise", self.denoise)) if on]
        if self.upscale_dpi:
            steps.append(f"upscale{self.upscale_dpi}")
        return "+".join(steps) or "none"


def prepare(image: Image.Image, prep: Prep) -> tuple[Image.Image, dict[str, float]]:
    """Apply the enabled steps in a fixed order: grayscale, deskew, upscale, denoise."""
    info: dict[str, float] = {}
    out = image.convert("L") if prep.grayscale and image.mode != "L" else image
    if prep.deskew:
        angle = skew_angle(out.convert("L"))
        info["skew_degrees"] = angle
        if abs(angle) >= DESKEW_STEP_DEGREES:
            fill = 255 if out.mode == "L" else (255, 255, 255)
            out = out.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    if prep.upscale_dpi:
        height = text_line_height(out.convert("L"))
        if height:
            info["text_line_px"] = height
            scale = upscale_factor(height, prep.upscale_dpi, out.size, prep.max_pixels)
            if scale >= MIN_SCALE:
                info["scale"] = round(scale, 3)
                size = (round(out.width * scale), round(out.height * scale))
                out = out.resize(size, Image.Resampling.BICUBIC)
    if prep.denoise:
        out = out.filter(ImageFilter.MedianFilter(3))
    return out, info


def upscale_factor(line_px: float, target_dpi: int, size: tuple[int, int], max_pixels: int) -> float:
    """How much to enlarge a page whose text lines are ``line_px`` high (1.0 = leave it)."""
    want = target_dpi * TEXT_LINE_INCH
    scale = min(MAX_SCALE, want / line_px)
    width, height = size
    cap = (max_pixels / max(1, width * height)) ** 0.5
    return float(max(1.0, min(scale, cap)))


def _dark(gray: Image.Image) -> np.ndarray:
    """Ink mask by Otsu's threshold."""
    pixels = np.asarray(gray, dtype=np.uint8)
    hist = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256)
    weight_bg = np.cumsum(hist)
    weight_fg = total - weight_bg
    cum_mean = np.cumsum(hist * levels)
    mean_all = cum_mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * weight_bg - total * cum_mean) ** 2 / (weight_bg * weight_fg)
    threshold = int(np.nanargmax(np.nan_to_num(between[:-1], nan=0.0)))
    return pixels <= threshold


def text_line_height(gray: Image.Image) -> float | None:
    """Median height in pixels of the bands of rows that hold ink, or None (no text)."""
    dark = _dark(gray)
    if not dark.any():
        return None
    rows = dark.mean(axis=1) > 0.01
    heights: list[int] = []
    run = 0
    for inked in rows:
        if inked:
            run += 1
        elif run:
            heights.append(run)
            run = 0
    if run:
        heights.append(run)
    heights = [h for h in heights if h >= 4]  # specks and rules are not text lines
    return float(np.median(heights)) if heights else None


def skew_angle(gray: Image.Image) -> float:
    """The rotation (degrees, counter-clockwise) that makes text rows sharpest."""
    small = gray
    if gray.width > 800:
        small = gray.resize((800, max(1, round(gray.height * 800 / gray.width))))
    ink = Image.fromarray((_dark(small) * 255).astype(np.uint8))
    best, best_score = 0.0, -1.0
    steps = int(DESKEW_MAX_DEGREES / DESKEW_STEP_DEGREES)
    for i in range(-steps, steps + 1):
        angle = i * DESKEW_STEP_DEGREES
        profile = np.asarray(ink.rotate(angle, expand=True), dtype=np.float64).sum(axis=1)
        score = float(np.var(profile))
        if score > best_score:
            best, best_score = angle, score
    return best
