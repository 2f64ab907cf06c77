"""The ``inbox-ocr`` command: run, check-config, ocr.

Exit codes (daemon.errors.ExitCode): 0 ok, 1 failed, 2 bad config, 3 start-up failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from daemon import __version__, audit
from daemon.bench import bench_correct, bench_quality
from daemon.config import ENV_CONFIG_FILE, Settings, load_settings
from daemon.corrector import make_corrector
from daemon.errors import ConfigError, ExitCode, InboxOcrError
from daemon.ocr import engine_factory
from daemon.service import Service
from daemon.split import SplitLimits, open_pages

DEFAULT_CONFIG = Path("/etc/inbox-ocr/inbox-ocr.toml")


def _config_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get(ENV_CONFIG_FILE)
    return Path(env) if env else DEFAULT_CONFIG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inbox-ocr",
        description="Watch a scanner inbox, OCR each file, correct it, write text and JSON "
        "to an outbox.",
    )
    parser.add_argument("--version", action="version", version=f"inbox-ocr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    config_help = f"config file (default: ${ENV_CONFIG_FILE} or {DEFAULT_CONFIG})"

    run = sub.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--config", help=config_help)
    run.add_argument("--oneshot", action="store_true",
                     help="process what is in the inbox, then exit (0 when drained)")

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", help=config_help)

    correct = sub.add_parser("correct", help="correct OCR text from stdin, print it on stdout")
    correct.add_argument("--config", help="config file for [llm] settings (optional)")
    correct.add_argument("--report", action="store_true",
                         help="also list each correction on stderr")

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    bench_correct = bench_sub.add_parser(
        "correct", help="inject OCR confusions into clean SROIE text and measure the corrector")
    bench_correct.add_argument("--dataset", type=Path, required=True,
                               help="SROIE-style folder with box/NNN.csv")
    bench_correct.add_argument("--limit", type=int, default=63, help="receipts to read")
    bench_correct.add_argument("--rate", type=float, default=0.15,
                               help="share of tokens to corrupt")
    bench_correct.add_argument("--seed", type=int, default=1)
    bench_correct.add_argument("--config", help="config file for [llm] settings (optional)")

    quality = bench_sub.add_parser(
        "quality", help="OCR a SROIE-style folder and score words, lines and date/total fields")
    quality.add_argument("--dataset", type=Path, required=True,
                         help="SROIE-style folder with img/, box/NNN.csv, key/NNN.json")
    quality.add_argument("--engine", action="append", default=[], metavar="NAME[,KEY=VALUE...]",
                         help="engine and [ocr] overrides, e.g. 'tesseract,psm=4' or "
                         "'rapidocr,upscale_dpi=300'; repeat to compare (default: the config's)")
    quality.add_argument("--limit", type=int, default=None, help="receipts to read (default: all)")
    quality.add_argument("--corrector", action="store_true",
                         help="also correct each page with the [llm] model and compare word F1")
    quality.add_argument("--config", help="config file for [ocr], [llm], [limits] (optional)")

    ocr = sub.add_parser("ocr", help="print raw and corrected text of files (no folders)")
    ocr.add_argument("files", nargs="+", type=Path)
    ocr.add_argument("--config", help="config file for [ocr] and [llm] settings (optional)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return cmd_check_config(_config_path(args.config))
        if args.command == "run":
            return cmd_run(_config_path(args.config), args.oneshot)
        if args.command == "correct":
            return cmd_correct(Path(args.config) if args.config else None, args.report)
        if args.command == "bench":
            settings = load_settings(Path(args.config) if args.config else None,
                                     check_paths=False)
            audit.configure("warning", "auto", None, sys.stderr)
            if args.bench == "quality":
                print(bench_quality(args.dataset, args.engine, args.limit,
                                    Path(args.config) if args.config else None, args.corrector))
                return ExitCode.OK
            print(bench_correct(args.dataset, args.limit, args.rate, args.seed, settings.llm))
            return ExitCode.OK
        if args.command == "ocr":
            return cmd_ocr(args.files, Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"inbox-ocr: configuration error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except InboxOcrError as exc:
        print(f"inbox-ocr: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    raise AssertionError(args.command)  # pragma: no cover - argparse enforces the choice


def cmd_check_config(path: Path) -> int:
    settings = load_settings(path)
    engine_factory(settings.ocr)  # languages installed, tessdata found
    print(f"{path}: ok (inbox {settings.paths.inbox}, engine {settings.ocr.engine}, "
          f"{settings.ocr.worker_count()} OCR workers)")
    return ExitCode.OK


def cmd_run(path: Path, oneshot: bool) -> int:
    settings = load_settings(path)
    settings.paths.state.mkdir(parents=True, exist_ok=True)
    audit.configure(settings.log.level, settings.log.format, settings.audit_log)
    service = Service(settings, oneshot=oneshot)

    async def serve() -> ExitCode:
        service.install_signal_handlers()
        return await service.serve()

    log = audit.get_logger()
    try:
        return int(asyncio.run(serve()))
    except InboxOcrError as exc:
        log.error(audit.CONFIG_INVALID if isinstance(exc, ConfigError) else audit.INTERNAL_ERROR,
                  error=str(exc), error_class=type(exc).__name__)
        raise
    except Exception:
        log.exception(audit.INTERNAL_ERROR)
        return ExitCode.FAILED


def cmd_correct(config: Path | None, report: bool) -> int:
    """Read OCR text on stdin, print the corrected text (for users and for evaluation)."""
    settings = load_settings(config, check_paths=False)
    audit.configure("warning", "auto", None, sys.stderr)  # stdout carries the text only
    corrector = make_corrector(settings.llm)
    corrector.load()
    try:
        text, corrections = corrector.correct(1, sys.stdin.read())
    finally:
        corrector.close()
    sys.stdout.write(text)
    if report:
        for c in corrections:
            print(f"line {c.line}: {c.before!r} -> {c.after!r} (margin {c.margin}, {c.reason})",
                  file=sys.stderr)
    return ExitCode.OK


def cmd_ocr(files: list[Path], config: Path | None) -> int:
    """The tutorial's one-off use: OCR each file and print raw and corrected text."""
    settings: Settings = load_settings(config, check_paths=False)
    audit.configure("warning", "auto", None, sys.stderr)
    limits = SplitLimits(int(settings.limits.max_file_mb * 1024 * 1024), settings.limits.max_pages,
                         int(settings.limits.max_page_megapixels * 1e6))
    engine = engine_factory(settings.ocr, limits.max_page_pixels, workers=1)()
    corrector = make_corrector(settings.llm)
    corrector.load()
    status = ExitCode.OK
    try:
        for path in files:
            try:
                _count, pages = open_pages(path, settings.ocr.dpi, limits)
                for number, image, _dpi in pages:
                    raw = engine.recognize(image).text
                    corrected, corrections = corrector.correct(number, raw)
                    print(f"==> {path} page {number}: raw <==\n{raw}\n")
                    print(f"==> {path} page {number}: corrected "
                          f"({len(corrections)} corrections) <==\n{corrected}\n")
            except InboxOcrError as exc:
                print(f"inbox-ocr: {path}: {exc.reason}: {exc}", file=sys.stderr)
                status = ExitCode.FAILED
    finally:
        engine.close()
        corrector.close()
    return status
