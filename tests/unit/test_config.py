"""Config validation: every problem is a ConfigError naming the key."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from pathlib import Path

import pytest

from inbox_ocr.cli import main
from inbox_ocr.config import Settings, load_settings
from inbox_ocr.errors import ConfigError, ExitCode

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


PATHS = """
[paths]
inbox = "in"
outbox = "out"
archive = "arch"
failed = "failed"
state = "state"
"""


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, PATHS), {})
    assert settings.paths.inbox == tmp_path / "in"
    assert settings.ocr.engine == "rapidocr"
    assert settings.llm.enabled is True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[paths]\ninbx = 'x'\n", "paths.inbx"),
        ("[watcher]\nmode = 'auto'\n", "watcher"),
        ("[watch]\nmode = 'sometimes'\n", "watch.mode"),
        ("[watch]\nstable_seconds = -1\n", "watch.stable_seconds"),
        ("[watch]\nstable_seconds = 'two'\n", "watch.stable_seconds"),
        ("[pipeline]\npage_queue = 0\n", "pipeline.page_queue"),
        ("[ocr]\nworkers = 1.5\n", "ocr.workers"),
        ("[ocr]\nengine = 'abbyy'\n", "ocr.engine"),
        ("[ocr]\nupscale_dpi = 50\n", "ocr.upscale_dpi"),
        ("[ocr]\nupscale_dpi = 5000\n", "ocr.upscale_dpi"),
        ("[ocr]\ndeskew = 'no'\n", "ocr.deskew"),
        ("[ocr]\nfallback_engine = 'rapidocr'\n", "ocr.fallback_engine"),
        ("[ocr]\nfallback_engine = 'abbyy'\n", "ocr.fallback_engine"),
        ("[llm]\nenabled = 'yes'\n", "llm.enabled"),
        ("[log]\nfile = '../escape.log'\n", "log.file"),
        ("paths = 3\n", "paths"),
        ("[paths\n", "config"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, PATHS.split("[paths]")[0] + text), {})
    assert info.value.key == key
    assert str(info.value).startswith(key + ":")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", {})


@pytest.mark.parametrize("folder", ["outbox", "archive", "failed", "state"])
def test_folders_must_not_be_inside_the_inbox(tmp_path: Path, folder: str) -> None:
    text = PATHS.replace(f'{folder} = "', f'{folder} = "in/')
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), {})
    assert info.value.key == f"paths.{folder}"


def test_two_roles_cannot_share_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, PATHS.replace('archive = "arch"', 'archive = "out"')), {})
    assert info.value.key == "paths.archive"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, PATHS.replace('outbox = "out"', 'outbox = "locked/out"')), {})
    assert info.value.key == "paths.outbox"


def test_a_file_where_a_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, PATHS), {})
    assert info.value.key == "paths.outbox"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "INBOX_OCR_WATCH_STABLE_SECONDS": "7.5",
        "INBOX_OCR_LLM_ENABLED": "false",
        "INBOX_OCR_OCR_WORKERS": "3",
        "INBOX_OCR_PATHS_INBOX": str(tmp_path / "elsewhere"),
        "INBOX_OCR_CONFIG": "ignored here",
    }
    settings = load_settings(write(tmp_path, PATHS), env)
    assert settings.watch.stable_seconds == 7.5
    assert settings.llm.enabled is False
    assert settings.ocr.workers == 3
    assert settings.paths.inbox == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    ("var", "value"),
    [("INBOX_OCR_WATCH_STABLE_SECOND", "1"), ("INBOX_OCR_OCR_WORKERS", "many"),
     ("INBOX_OCR_LLM_ENABLED", "perhaps")],
)
def test_bad_environment_override_names_the_variable_or_key(
    tmp_path: Path, var: str, value: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, PATHS), {var: value})
    assert info.value.key in {var, "ocr.workers", "llm.enabled"}


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, PATHS), {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.watch.stable_seconds = 1  # type: ignore[misc]


def test_shipped_config_documents_every_key() -> None:
    shipped = tomllib.loads((REPO / "etc" / "inbox-ocr.toml").read_text())
    hints = typing.get_type_hints(Settings)
    for section in dataclasses.fields(Settings):
        if section.name == "source":
            continue
        keys = {f.name for f in dataclasses.fields(hints[section.name])}
        assert set(shipped[section.name]) == keys, section.name
    defaults = load_settings(REPO / "etc" / "inbox-ocr.toml", {}, check_paths=False)
    assert defaults == dataclasses.replace(load_settings(None, {}, check_paths=False),
                                           source=defaults.source)


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, PATHS)
    assert main(["check-config", "--config", str(good)]) == ExitCode.OK
    assert "ok" in capsys.readouterr().out
    bad = write(tmp_path, PATHS + "[ocr]\nengine = 'tesseract'\nlanguages = 'klingon'\n")
    assert main(["check-config", "--config", str(bad)]) == ExitCode.BAD_CONFIG
    assert "ocr.languages" in capsys.readouterr().err
    bad.write_text(PATHS + "[watch]\nmode = 'never'\n")
    assert main(["check-config", "--config", str(bad)]) == ExitCode.BAD_CONFIG
    assert "watch.mode" in capsys.readouterr().err


def test_automatic_worker_count_depends_on_the_engine() -> None:
    import os

    from inbox_ocr.config import OcrSettings

    cores = len(os.sched_getaffinity(0))
    assert OcrSettings(engine="tesseract").worker_count() == cores
    assert OcrSettings(engine="rapidocr").worker_count() == 1  # ONNX Runtime uses every core
    assert OcrSettings(engine="rapidocr", workers=3).worker_count() == 3
