"""The unit file, the sysusers.d and tmpfiles.d snippets, checked by systemd's own tools.

Skipped only when the tools are absent (scripts/setup.sh installs the `systemd` package).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inbox_ocr.config import PipelineSettings

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "inbox-ocr.service"
INSTALLED_COMMAND = "/opt/inbox-ocr/.venv/bin/inbox-ocr"
MAX_EXPOSURE = 3.0

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (apt-get install systemd)")


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_declares_the_service_contract() -> None:
    unit = unit_settings()
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["Restart"] == ["on-failure"] and unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert int(unit["WatchdogSec"][0]) > 0
    assert int(unit["TimeoutStopSec"][0]) > PipelineSettings().drain_timeout
    assert unit["User"] == ["inbox-ocr"] and unit["ProtectSystem"] == ["strict"]
    for key in ("ProtectHome", "PrivateTmp", "NoNewPrivileges"):
        assert unit[key] == ["yes"], key
    assert unit["CapabilityBoundingSet"] == [""]


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    # verify checks that ExecStart= exists: point it at this checkout's command.
    command = Path(sys.executable).parent / "inbox-ocr"
    if not command.exists():
        pytest.skip(f"{command} not installed (pip install -e .)")
    unit = tmp_path / "inbox-ocr.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_COMMAND, str(command)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_analyze
def test_exposure_score_is_at_most_3(tmp_path: Path) -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                             str(UNIT)], capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r"Overall exposure level for inbox-ocr\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE


@pytest.mark.skipif(os.geteuid() != 0, reason="creating users and chown need root")
@pytest.mark.skipif(shutil.which("systemd-sysusers") is None
                    or shutil.which("systemd-tmpfiles") is None, reason="systemd not installed")
def test_sysusers_and_tmpfiles_create_the_user_and_folders(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    subprocess.run(["systemd-sysusers", f"--root={root}", str(SYSTEMD / "inbox-ocr.sysusers.conf")],
                   check=True, capture_output=True, timeout=60)
    passwd = (root / "etc" / "passwd").read_text()
    assert re.search(r"^inbox-ocr:x:\d+:\d+:inbox-ocr daemon:/var/lib/inbox-ocr:", passwd, re.M)
    subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create",
                    str(SYSTEMD / "inbox-ocr.tmpfiles.conf")],
                   check=True, capture_output=True, timeout=60)
    uid = int(passwd.split("inbox-ocr:x:")[1].split(":")[0])
    for folder in ("srv/scans/inbox", "srv/scans/outbox", "srv/scans/archive", "srv/scans/failed",
                   "var/lib/inbox-ocr"):
        st = (root / folder).stat()
        assert st.st_uid == uid, folder
    assert oct((root / "srv/scans/inbox").stat().st_mode & 0o7777) == "0o2775"


@needs_analyze
def test_the_gpu_drop_in_verifies_with_the_unit(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "inbox-ocr"
    if not command.exists():
        pytest.skip(f"{command} not installed (pip install -e .)")
    drop_in = (SYSTEMD / "inbox-ocr-gpu.conf").read_text()
    assert "PrivateDevices=no" in drop_in and "DeviceAllow=/dev/nvidiactl rw" in drop_in
    unit = tmp_path / "inbox-ocr.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_COMMAND, str(command)))
    (tmp_path / "inbox-ocr.service.d").mkdir()
    (tmp_path / "inbox-ocr.service.d" / "gpu.conf").write_text(drop_in)
    # verify reads the drop-in from beside the unit; a bad key or section would be reported.
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False, cwd=tmp_path)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    broken = tmp_path / "inbox-ocr.service.d" / "broken.conf"
    broken.write_text("[Service]\nDeviceAlow=/dev/nvidia0 rw\n")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False, cwd=tmp_path)
    assert "DeviceAlow" in result.stdout + result.stderr  # the drop-in was really read
