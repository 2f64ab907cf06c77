"""One validated, immutable settings object, read from TOML and overridable from the environment.

``load_settings(path, environ)`` is the only way to get a :class:`Settings`. It raises
:class:`~inbox_ocr.errors.ConfigError` naming the dotted key for unknown keys, wrong types, values
out of range and failed cross-field checks. Environment variables ``INBOX_OCR_<SECTION>_<KEY>``
(for example ``INBOX_OCR_WATCH_STABLE_SECONDS=5``) override the file; an unknown variable with
that prefix is an error too, so a typo never goes unnoticed. ``INBOX_OCR_CONFIG`` names the
config file and is not an override.

The file ``etc/inbox-ocr.toml`` documents every key; ``docs/config.md`` is the reference.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inbox_ocr.errors import ConfigError

ENV_PREFIX = "INBOX_OCR_"
ENV_CONFIG_FILE = "INBOX_OCR_CONFIG"

WatchMode = Literal["auto", "events", "polling"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]
JournalMode = Literal["auto", "on", "off"]
EngineName = Literal["tesseract", "rapidocr", "aspose"]
WordBreaks = Literal["tesseract", "positions"]
StartFailure = Literal["degraded", "refuse"]
FallbackEngine = Literal["auto", "none", "tesseract", "rapidocr", "aspose"]


def _opt(default: Any, *, minimum: float | None = None, maximum: float | None = None) -> Any:
    return field(default=default, metadata={"min": minimum, "max": maximum})


@dataclass(frozen=True)
class PathsSettings:
    """Folders. Relative paths are resolved against the config file's folder."""

    inbox: Path = Path("/srv/scans/inbox")
    outbox: Path = Path("/srv/scans/outbox")
    archive: Path = Path("/srv/scans/archive")
    failed: Path = Path("/srv/scans/failed")
    state: Path = Path("/var/lib/inbox-ocr")


@dataclass(frozen=True)
class WatchSettings:
    mode: WatchMode = "auto"
    stable_seconds: float = _opt(2.0, minimum=0.0, maximum=3600.0)
    # Formats whose end cannot be seen (TIFF): quiet this long (network writers pause 10-30 s).
    unmarked_stable_seconds: float = _opt(45.0, minimum=0.0, maximum=86400.0)
    # A PDF/JPEG/PNG without its end marker waits until unchanged this long.
    unfinished_seconds: float = _opt(600.0, minimum=0.0, maximum=86400.0)
    rescan_seconds: float = _opt(30.0, minimum=0.0, maximum=86400.0)
    poll_seconds: float = _opt(5.0, minimum=0.1, maximum=3600.0)
    recursive: bool = False


@dataclass(frozen=True)
class PipelineSettings:
    intake_queue: int = _opt(64, minimum=1, maximum=100_000)
    page_queue: int = _opt(4, minimum=1, maximum=1000)
    text_queue: int = _opt(16, minimum=1, maximum=10_000)
    drain_timeout: float = _opt(60.0, minimum=0.0, maximum=86400.0)
    dedupe: bool = True


@dataclass(frozen=True)
class RetrySettings:
    """Transient errors (outbox disk full, engine crash) leave the input in the inbox."""

    max_attempts: int = _opt(5, minimum=1, maximum=1000)
    backoff_seconds: float = _opt(5.0, minimum=0.0, maximum=86400.0)
    max_backoff_seconds: float = _opt(300.0, minimum=0.0, maximum=86400.0)


@dataclass(frozen=True)
class OcrSettings:
    engine: EngineName = "rapidocr"
    workers: int = _opt(0, minimum=0, maximum=256)
    languages: str = "eng"
    psm: int = _opt(6, minimum=0, maximum=13)
    dpi: int = _opt(300, minimum=72, maximum=1200)
    tessdata: str = ""
    upscale_dpi: int = _opt(0, minimum=0, maximum=1200)
    deskew: bool = False
    denoise: bool = False
    aspose_license: str = ""
    rapidocr_word_breaks: WordBreaks = "tesseract"
    # A page the engine reads nothing on, or fails on, is read again by this engine. "auto":
    # the other of rapidocr/tesseract when it is installed; "none": no second try.
    fallback_engine: FallbackEngine = "auto"
    # Turn pages scanned sideways or upside down upright before reading them (rapidocr: its
    # text direction classifier on the page's longest lines; inbox_ocr/ocr/orient.py).
    orientation: bool = True

    def worker_count(self) -> int:
        """``workers = 0``: one per CPU core available to this process for the single-threaded
        engines; one for RapidOCR, whose ONNX Runtime spreads a page over all the cores (on 2
        cores one such worker read 63 receipts 12% faster than two single-threaded ones)."""
        if self.workers:
            return self.workers
        if self.engine == "rapidocr":
            return 1
        return max(1, len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class LlmSettings:
    """The resident GGUF model. Resolution order: model_path, then hf_repo + quantization
    (downloaded only with allow_auto_download), then the model a Python package ships."""

    enabled: bool = True
    model_path: str = ""
    hf_repo: str = ""
    quantization: str = "Q8_0"
    allow_auto_download: bool = False
    gpu_layers: int = _opt(0, minimum=-1, maximum=1000)
    context_size: int = _opt(512, minimum=64, maximum=131_072)
    threads: int = _opt(0, minimum=0, maximum=256)
    margin: float = _opt(3.0, minimum=0.0, maximum=100.0)
    chat_template: bool = False
    # The model process (inbox_ocr.correct.process): what a model that cannot start does to start-up,
    # and when repeated crashes put the corrector in degraded mode (raw text, with a warning).
    on_start_failure: StartFailure = "degraded"
    start_timeout_seconds: float = _opt(300.0, minimum=1.0, maximum=86400.0)
    crash_limit: int = _opt(3, minimum=1, maximum=1000)
    crash_window_seconds: float = _opt(600.0, minimum=1.0, maximum=86400.0)
    degraded_retry_seconds: float = _opt(300.0, minimum=1.0, maximum=86400.0)


@dataclass(frozen=True)
class LimitsSettings:
    max_file_mb: float = _opt(200.0, minimum=0.001, maximum=100_000.0)
    max_pages: int = _opt(500, minimum=1, maximum=100_000)
    max_page_megapixels: float = _opt(100.0, minimum=0.01, maximum=10_000.0)
    ocr_seconds_per_page: float = _opt(300.0, minimum=0.1, maximum=86400.0)
    llm_seconds_per_page: float = _opt(60.0, minimum=0.1, maximum=86400.0)


@dataclass(frozen=True)
class LogSettings:
    level: LogLevel = "info"
    format: LogFormat = "auto"
    file: str = "audit.log"
    journal: JournalMode = "auto"


@dataclass(frozen=True)
class ServiceSettings:
    """Self-report to systemd and to ``inbox-ocr status`` (inbox_ocr.ops.reporter)."""

    status_seconds: float = _opt(5.0, minimum=0.01, maximum=3600.0)
    stall_seconds: float = _opt(600.0, minimum=0.01, maximum=86400.0)


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = False
    address: str = "127.0.0.1"
    port: int = _opt(9464, minimum=0, maximum=65535)


@dataclass(frozen=True)
class FieldsSettings:
    """Key fields (invoice number, dates, totals...) in each result's ``fields`` object."""

    csv: bool = False


@dataclass(frozen=True)
class Settings:
    paths: PathsSettings = PathsSettings()
    watch: WatchSettings = WatchSettings()
    pipeline: PipelineSettings = PipelineSettings()
    ocr: OcrSettings = OcrSettings()
    llm: LlmSettings = LlmSettings()
    limits: LimitsSettings = LimitsSettings()
    retry: RetrySettings = RetrySettings()
    log: LogSettings = LogSettings()
    service: ServiceSettings = ServiceSettings()
    metrics: MetricsSettings = MetricsSettings()
    fields: FieldsSettings = FieldsSettings()
    source: Path | None = None

    @property
    def audit_log(self) -> Path:
        return self.paths.state / self.log.file

    @property
    def journal(self) -> Path:
        return self.paths.state / "journal.sqlite3"


_SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Settings)[f.name]
    for f in dataclasses.fields(Settings)
    if f.name != "source"
}


def load_settings(
    path: Path | None, environ: Mapping[str, str] | None = None, *, check_paths: bool = True
) -> Settings:
    """Read ``path`` (or only defaults when None), apply environment overrides, validate.

    ``check_paths=False`` skips the folder checks (for commands that use no folders).
    Raises ConfigError (never anything else) for every problem found in the input.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("config", f"file not found: {path}") from None
        except OSError as exc:
            raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
        base = path.resolve().parent
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(name, f"unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(name, "must be a table, like [" + name + "]")
        sections[name] = dict(value)
    _apply_environment(sections, env)
    built = {name: _build_section(name, cls, sections.get(name, {}), base)
             for name, cls in _SECTIONS.items()}
    settings = Settings(**built, source=path)
    if check_paths:
        _check_paths(settings)
    _check_log_file(settings.log.file)
    _check_address(settings.metrics.address)
    if 0 < settings.ocr.upscale_dpi < 72:
        raise ConfigError("ocr.upscale_dpi", f"must be 0 (off) or >= 72, got {settings.ocr.upscale_dpi}")
    if settings.ocr.fallback_engine == settings.ocr.engine:
        raise ConfigError("ocr.fallback_engine", f"names the engine itself ({settings.ocr.engine!r}); "
                          "use another engine, 'auto' or 'none'")
    return settings


def _apply_environment(sections: dict[str, Any], env: Mapping[str, str]) -> None:
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_CONFIG_FILE:
            continue
        rest = var[len(ENV_PREFIX):].lower()
        section, _, key = rest.partition("_")
        cls = _SECTIONS.get(section)
        if cls is None or key not in {f.name for f in dataclasses.fields(cls)}:
            raise ConfigError(var, "unknown environment override (expected INBOX_OCR_<SECTION>_<KEY>)")
        sections.setdefault(section, {})[key] = _EnvString(value)


class _EnvString(str):
    """A value that came from the environment: parsed by the target type, not by TOML."""


def _build_section(section: str, cls: type[Any], values: dict[str, Any], base: Path) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            raise ConfigError(f"{section}.{key}", f"unknown key (known: {', '.join(fields)})")
    kwargs = {}
    for key, value in values.items():
        name = f"{section}.{key}"
        converted = _convert(name, hints[key], value, base)
        meta = fields[key].metadata
        if isinstance(converted, int | float) and not isinstance(converted, bool):
            if meta.get("min") is not None and converted < meta["min"]:
                raise ConfigError(name, f"must be >= {meta['min']}, got {converted}")
            if meta.get("max") is not None and converted > meta["max"]:
                raise ConfigError(name, f"must be <= {meta['max']}, got {converted}")
        kwargs[key] = converted
    return cls(**kwargs)


def _convert(name: str, hint: Any, value: Any, base: Path) -> Any:
    from_env = isinstance(value, _EnvString)
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return str(value)
    if hint is bool:
        if from_env:
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
        if isinstance(value, bool) and not from_env:
            return value
        raise ConfigError(name, f"must be true or false, got {value!r}")
    if hint is int:
        if from_env:
            try:
                return int(value)
            except ValueError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(name, f"must be an integer, got {value!r}")
    if hint is float:
        if from_env:
            try:
                return float(value)
            except ValueError:
                pass
        elif isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(name, f"must be a number, got {value!r}")
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(name, f"must be a non-empty path string, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(name, f"must be a string, got {value!r}")
        return str(value)
    raise ConfigError(name, f"unsupported type {hint!r}")  # pragma: no cover


def _check_log_file(name: str) -> None:
    if not name or Path(name).is_absolute() or len(Path(name).parts) != 1:
        raise ConfigError("log.file", f"must be a plain file name inside paths.state, got {name!r}")


def _check_address(address: str) -> None:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError("metrics.address",
                          f"must be an IP address such as 127.0.0.1 or ::1, got {address!r}") from None


def _check_paths(settings: Settings) -> None:
    paths = settings.paths
    inbox = _absolute(paths.inbox)
    named = {f"paths.{f.name}": _absolute(getattr(paths, f.name))
             for f in dataclasses.fields(paths)}
    for key, folder in named.items():
        if key == "paths.inbox":
            continue
        if folder == inbox or inbox in folder.parents:
            raise ConfigError(key, f"{folder} must not be the inbox or inside it ({inbox})")
    seen: dict[Path, str] = {}
    for key, folder in named.items():
        if folder in seen:
            raise ConfigError(key, f"is the same folder as {seen[folder]} ({folder})")
        seen[folder] = key
    for key, folder in named.items():
        problem = writable_problem(folder)
        if problem:
            raise ConfigError(key, problem)


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))


def writable_problem(folder: Path) -> str | None:
    """None when ``folder`` is (or could be created as) a writable directory, else why not."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return f"{folder} cannot be created"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is not writable" if probe == folder else f"cannot be created ({probe} is not writable)"
        return f"{folder} {what}"
    return None
