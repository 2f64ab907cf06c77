"""The ``inbox-ocr`` command: run, check-config, status, retry-failed, ocr, correct, bench.

Exit codes (inbox_ocr.errors.ExitCode): 0 ok, 1 failed, 2 bad config, 3 start-up failed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from inbox_ocr import __version__
from inbox_ocr.config import ENV_CONFIG_FILE, Settings, load_settings
from inbox_ocr.correct.process import make_corrector
from inbox_ocr.document import engine_factory_for, read_document
from inbox_ocr.errors import ConfigError, ExitCode, InboxOcrError
from inbox_ocr.intake.documents import make_document
from inbox_ocr.ops import audit, journald, status
from inbox_ocr.outbox.files import quarantined, release
from inbox_ocr.outbox.journal import Journal
from inbox_ocr.service import Service

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

    retry = sub.add_parser("retry-failed",
                           help="move quarantined inputs from failed/ back into the inbox")
    retry.add_argument("--config", help=config_help)
    retry.add_argument("names", nargs="*", help="file names in failed/ (default: all)")
    retry.add_argument("--reason", help="only inputs that failed with this reason, "
                       "e.g. retries_exhausted or engine_failed")
    retry.add_argument("--dry-run", action="store_true", help="list, move nothing")

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("--config", help=config_help)

    show = sub.add_parser("status", help="show what the daemon is doing (reads its status file "
                          "and today's audit log; no connection to the daemon needed)")
    show.add_argument("--config", help=config_help)
    show.add_argument("--json", action="store_true", help="print the status file and counts as JSON")

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

    thru = bench_sub.add_parser(
        "throughput", help="pages per minute vs the raw tesseract CLI, peak RSS, latency")
    thru.add_argument("--pages", type=int, default=40, help="pages in the batch")
    thru.add_argument("--big-pages", type=int, default=200,
                      help="pages of the large PDF for the memory figure (a multiple of 20; "
                      "0 = skip the memory figure)")
    thru.add_argument("--workers", type=int, default=0, help="0 = one per CPU core")
    thru.add_argument("--page-megapixels", default="8.7,33.7,81",
                      help="page sizes for the default engine's memory per page size, "
                      "comma-separated ('' = skip)")
    thru.add_argument("--keep", type=Path, help="work in this folder and keep it")
    thru.add_argument("--config", help="config file for [ocr] settings (optional)")
    thru.add_argument("--receipts", type=Path,
                      help="only time the daemon's default configuration on this SROIE-style "
                      "folder's img/ receipts (seconds per receipt, corrector off and on)")
    thru.add_argument("--limit", type=int, help="with --receipts: the first N receipts")
    thru.add_argument("--repeat", type=int, default=1,
                      help="with --receipts: time corrector off and on this many times, "
                      "alternating, and print the medians")

    soak = bench_sub.add_parser(
        "soak", help="drop files while killing the daemon at random; count lost and duplicates")
    soak.add_argument("--files", type=int, default=300, help="inputs to drop")
    soak.add_argument("--kill-every", type=float, default=3.0,
                      help="at most this many seconds between SIGKILLs")
    soak.add_argument("--seed", type=int, default=1)
    soak.add_argument("--llm", action="store_true", help="with the corrector (slower)")
    soak.add_argument("--keep", type=Path, help="work in this folder and keep it")

    fields = bench_sub.add_parser(
        "fields", help="field extraction accuracy against SROIE key/*.json or invoice2data")
    fields.add_argument("--dataset", type=Path, required=True,
                        help="SROIE-style folder (key/, img/) or invoice2data folder (*.json, "
                        "*.pdf)")
    fields.add_argument("--limit", type=int, default=0, help="documents to read (0: all)")
    fields.add_argument("--llm", action="store_true", help="with the corrector, as the daemon "
                        "runs by default (slower)")
    fields.add_argument("--verbose", action="store_true", help="list every miss")
    fields.add_argument("--config", help="config file for [ocr] and [llm] settings (optional)")

    invoices = bench_sub.add_parser(
        "invoices", help="write generated invoices with ground truth, for bench fields")
    invoices.add_argument("--out", type=Path, required=True, help="folder to write into")
    invoices.add_argument("--count", type=int, default=64, help="invoices to write")
    invoices.add_argument("--seed", type=int, default=1)

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
    quality.add_argument("--rotate", action="append", type=int, default=[], metavar="DEGREES",
                         choices=[0, 90, 180, 270],
                         help="also read every receipt turned by DEGREES counter-clockwise "
                         "(repeat; 0 = upright)")

    ocr = sub.add_parser("ocr", help="print raw and corrected text of files (no folders)")
    ocr.add_argument("files", nargs="+", type=Path)
    ocr.add_argument("--config", help="config file for [ocr] and [llm] settings (optional)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return cmd_check_config(_config_path(args.config))
        if args.command == "retry-failed":
            return cmd_retry_failed(_config_path(args.config), args.names, args.reason,
                                    args.dry_run)
        if args.command == "run":
            return cmd_run(_config_path(args.config), args.oneshot)
        if args.command == "status":
            return cmd_status(_config_path(args.config), args.json)
        if args.command == "correct":
            return cmd_correct(Path(args.config) if args.config else None, args.report)
        if args.command == "bench":
            return cmd_bench(args)
        if args.command == "ocr":
            return cmd_ocr(args.files, Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"inbox-ocr: configuration error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except InboxOcrError as exc:
        print(f"inbox-ocr: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    raise AssertionError(args.command)  # pragma: no cover - argparse enforces the choice


def cmd_bench(args: argparse.Namespace) -> int:
    """The bench subcommands. Their modules are imported here, never by the service."""
    config = Path(args.config) if getattr(args, "config", None) else None
    if args.bench == "invoices":
        from inbox_ocr.bench.invoices import generate

        made = generate(args.out, args.count, args.seed)
        print(f"{len(made)} invoices with ground truth in {args.out}")
        return ExitCode.OK
    if args.bench == "throughput":
        from inbox_ocr.bench.throughput import bench_throughput

        ocr = load_settings(config, check_paths=False).ocr
        tesseract = dataclasses.replace(ocr, engine="tesseract")  # the engine it pins
        bench_throughput(args.pages, args.workers or tesseract.worker_count(), ocr.dpi, ocr.psm,
                         ocr.languages, args.big_pages, args.keep,
                         [float(mp) for mp in args.page_megapixels.split(",") if mp.strip()],
                         args.receipts, args.limit, max(1, args.repeat))
        return ExitCode.OK
    if args.bench == "soak":
        from inbox_ocr.bench.soak import soak

        return soak(args.files, args.kill_every, args.seed, args.llm, args.keep)
    settings = load_settings(config, check_paths=False)
    audit.configure("warning", "auto", None, sys.stderr)
    if args.bench == "fields":
        from inbox_ocr.bench import fields

        print(fields.run(args.dataset, settings, limit=args.limit or None, llm=args.llm,
                         verbose=args.verbose))
        return ExitCode.OK
    from inbox_ocr.bench.commands import bench_correct, bench_quality

    if args.bench == "quality":
        print(bench_quality(args.dataset, args.engine, args.limit, config, args.corrector,
                            args.rotate))
        return ExitCode.OK
    print(bench_correct(args.dataset, args.limit, args.rate, args.seed, settings.llm))
    return ExitCode.OK


def cmd_check_config(path: Path) -> int:
    settings = load_settings(path)
    engine_factory_for(settings)  # languages installed, tessdata found
    print(f"{path}: ok (inbox {settings.paths.inbox}, engine {settings.ocr.engine}, "
          f"{settings.ocr.worker_count()} OCR workers)")
    return ExitCode.OK


def cmd_retry_failed(path: Path, names: list[str], reason: str | None, dry_run: bool) -> int:
    """Give quarantined inputs another chance: back into the inbox, journal attempts reset."""
    settings = load_settings(path)
    chosen = [(p, report) for p, report in quarantined(settings.paths.failed)
              if (not names or p.name in names) and (reason is None or report.get("reason") == reason)]
    unknown = set(names) - {p.name for p, _ in chosen}
    for name in sorted(unknown):
        print(f"inbox-ocr: {name}: not in {settings.paths.failed} (or another reason)",
              file=sys.stderr)
    journal = Journal(settings.journal)
    journal.open()
    try:
        for quarantined_path, report in chosen:
            what = f"{quarantined_path.name} ({report.get('reason', 'no report')})"
            if dry_run:
                print(f"would retry {what}")
                continue
            target = release(quarantined_path, settings.paths.inbox)
            journal.reset_failed(str(report.get("source") or quarantined_path.name))
            print(f"retrying {what} as {target}")
    finally:
        journal.close()
    return ExitCode.FAILED if unknown else ExitCode.OK


def cmd_run(path: Path, oneshot: bool) -> int:
    settings = load_settings(path)
    settings.paths.state.mkdir(parents=True, exist_ok=True)
    audit.configure(settings.log.level, settings.log.format, settings.audit_log,
                    journal=journald.wanted(settings.log.journal))
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


def cmd_status(path: Path, as_json: bool) -> int:
    """Print the daemon's last status and today's counts. Exit 0 when it is running, 1 if not."""
    settings = load_settings(path, check_paths=False)
    current = status.read_status(status.status_path(settings.paths.state))
    today = status.today_counts(settings.audit_log)
    journal = status.journal_counts(settings.journal)
    running = current is not None and current.get("state") != "stopped" \
        and status.pid_alive(current.get("pid"))
    if as_json:
        print(json.dumps({"status": current, "today": today, "journal": journal,
                          "running": running}, indent=1))
    else:
        print(status.render(current, today, time.time(), journal))
    return ExitCode.OK if running else ExitCode.FAILED


def cmd_correct(config: Path | None, report: bool) -> int:
    """Read OCR text on stdin, print the corrected text (for users and for evaluation)."""
    settings = load_settings(config, check_paths=False)
    audit.configure("warning", "auto", None, sys.stderr)  # stdout carries the text only
    corrector = make_corrector(settings.llm)
    corrector.load()
    try:
        result = corrector.correct(1, sys.stdin.read())
    finally:
        corrector.close()
    sys.stdout.write(result.text)
    if report:
        for c in result.corrections:
            print(f"line {c.line}: {c.before!r} -> {c.after!r} (margin {c.margin}, {c.reason})",
                  file=sys.stderr)
    if result.warning is not None:  # the text went out as read: say so, and fail
        print(f"inbox-ocr: {result.warning}: {result.detail}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def cmd_ocr(files: list[Path], config: Path | None) -> int:
    """The tutorial's one-off use: each file through the daemon's document path
    (``inbox_ocr.document``), printing raw and corrected text page by page."""
    settings: Settings = load_settings(config, check_paths=False)
    audit.configure("warning", "auto", None, sys.stderr)
    engine = engine_factory_for(settings, workers=1)()
    corrector = make_corrector(settings)
    corrector.load()
    status = ExitCode.OK
    try:
        for path in files:
            try:
                st = path.stat()
                document = make_document(path, st.st_size, st.st_mtime_ns, time.time())
                reading = read_document(document, settings, engine, corrector,
                                        with_fields=False)
            except OSError as exc:
                print(f"inbox-ocr: {path}: cannot read: {exc.strerror}", file=sys.stderr)
                status = ExitCode.FAILED
                continue
            except InboxOcrError as exc:
                print(f"inbox-ocr: {path}: {exc.reason}: {exc}", file=sys.stderr)
                status = ExitCode.FAILED
                continue
            for page in reading.pages:
                print(f"==> {path} page {page.number}: raw <==\n{page.raw_text}\n")
                print(f"==> {path} page {page.number}: corrected "
                      f"({len(page.corrections)} corrections) <==\n{page.text}\n")
                for warning in page.warnings:
                    print(f"inbox-ocr: {path}: {warning}", file=sys.stderr)
    finally:
        engine.close()
        corrector.close()
    return status
