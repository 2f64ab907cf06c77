"""A real systemd (PID 1 of a systemd-nspawn container) with inbox-ocr installed as the README's
"Run it as a service" says. Commands enter the container with nsenter; checks that must run
under the container's own seccomp filter and cgroup run as ``systemd-run`` units inside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOST_WHEELS = Path(os.environ.get("INBOX_OCR_WHEEL_CACHE") or
                   Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                   / "inbox-ocr" / "wheels")
BOOT_TIMEOUT = 60.0
HOST_CA = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt").resolve()
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def unavailable() -> str | None:
    """Why this machine cannot run the systemd tests, or None."""
    check = subprocess.run([str(REPO / "scripts" / "systemd-root.sh"), "--check"],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        return check.stdout.strip() or check.stderr.strip()
    return None


def build_root() -> Path:
    """The cached minimal Debian root (built on first use, a few minutes)."""
    out = subprocess.run([str(REPO / "scripts" / "systemd-root.sh")], capture_output=True,
                         text=True, check=True, timeout=1800)
    return Path(out.stdout.strip().splitlines()[-1])


def copy_tree(root: Path) -> None:
    """This checkout's files (tracked and untracked, as a clone of the working tree would
    have them) into ``root``/opt/inbox-ocr; its .venv there is kept between runs."""
    target = root / "opt" / "inbox-ocr"
    target.mkdir(parents=True, exist_ok=True)
    for entry in target.iterdir():
        if entry.name != ".venv":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():
            continue
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)


class Container:
    """One booted container. ``run`` executes a command inside it (as root)."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        HOST_WHEELS.mkdir(parents=True, exist_ok=True)
        self._log = log.open("wb")
        env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        self.process = subprocess.Popen(
            ["systemd-nspawn", "-D", str(root), "-b", "--register=no", "--keep-unit",
             "--console=read-only", "--machine=inbox-ocr-test",
             # Let the container's systemd attach BPF programs to cgroups: without bpf(),
             # IPAddressDeny= is not enforced, and in a container systemd says so only at
             # debug level (measured: a denied unit still connected out).
             "--capability=CAP_BPF,CAP_NET_ADMIN", "--system-call-filter=bpf",
             # The host's llama-cpp-python wheel (same version and CMake arguments): no build.
             f"--bind={HOST_WHEELS}:/root/.cache/inbox-ocr/wheels",
             # The host's trust store, for networks whose proxy re-signs TLS (pip, PyPI).
             f"--bind-ro={HOST_CA}:/etc/inbox-ocr-host-ca.crt"],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.leader = 0
        try:
            self._boot()
        except BaseException:
            self.close()
            raise

    def _boot(self) -> None:
        self.leader = self._leader()
        # Until systemd has opened its bus, systemctl cannot ask it anything: ask again.
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            answer = self.run("systemctl", "is-system-running", "--wait", check=False,
                              timeout=BOOT_TIMEOUT)
            if answer.stdout.strip() in ("running", "degraded"):
                break
            assert time.monotonic() < deadline, f"systemd did not boot: {answer.stderr}"
            time.sleep(0.2)

    def _leader(self) -> int:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "systemd-nspawn exited"
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            with contextlib.suppress(OSError):
                # nspawn's first child is a helper until it has exec'd the container's systemd.
                for pid in children.read_text().split():
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                        return int(pid)
            time.sleep(0.1)  # polling /proc: nothing to wait on for a process to appear
        raise AssertionError("the container's PID 1 did not appear")

    def run(self, *command: str, check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        # A clean environment, as a login shell in the container would have (not the host's).
        env = ["env", "-i", f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8",
               "PIP_CERT=/etc/inbox-ocr-host-ca.crt", "PIP_DISABLE_PIP_VERSION_CHECK=1"]
        proc = subprocess.run(["nsenter", "-t", str(self.leader), "-a", *env, *command],
                              capture_output=True, text=True, timeout=timeout, input=input,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{command} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, what: str, probe: object, timeout: float = 120) -> None:
        """Poll ``probe()`` (a command in the container: there is no event to await across
        the container boundary) until it is true."""
        deadline = time.monotonic() + timeout
        while not probe():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.5)

    def journal(self, *match: str) -> list[dict[str, str]]:
        out = self.run("journalctl", "-u", "inbox-ocr", "-o", "json", "--no-pager", *match,
                       check=False).stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def close(self) -> None:
        if self.leader and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.run("systemctl", "poweroff", check=False, timeout=30)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.leader:  # a PID 1 that outlived its nspawn would keep the root locked
            with contextlib.suppress(OSError):
                os.kill(self.leader, 9)
        self._log.close()
        # nspawn with --keep-unit leaves these in the host's root cgroup(s).
        for hierarchy in [Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").iterdir()]:
            for leftover in ("payload", "supervisor"):
                with contextlib.suppress(OSError):
                    (hierarchy / leftover).rmdir()
