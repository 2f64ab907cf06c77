"""The unit under a real systemd 252 (PID 1 of a systemd-nspawn container), installed exactly as
the README's "Run it as a service" says. Selected with ``-m systemd``; skipped, with the
reason, where the machine cannot boot such a container (not root, no systemd-nspawn)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbox_ocr.bench.samples import write_sample
from tests.systemd.container import Container, build_root, copy_tree, unavailable

pytestmark = [pytest.mark.systemd, pytest.mark.timeout(1800)]

CONFIG = "/etc/inbox-ocr/inbox-ocr.toml"
# The README's install steps, after `scripts/setup.sh` (run with INBOX_OCR_EXTRAS= : the
# service's virtualenv holds no dev tools and no Aspose).
INSTALL = [
    ["install", "-Dm644", "etc/inbox-ocr.toml", CONFIG],
    ["install", "-Dm644", "systemd/inbox-ocr.sysusers.conf", "/etc/sysusers.d/inbox-ocr.conf"],
    ["install", "-Dm644", "systemd/inbox-ocr.tmpfiles.conf", "/etc/tmpfiles.d/inbox-ocr.conf"],
    ["install", "-Dm644", "systemd/inbox-ocr.service", "/etc/systemd/system/inbox-ocr.service"],
    ["systemd-sysusers"],
    ["systemd-tmpfiles", "--create"],
    ["systemctl", "daemon-reload"],
]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    reason = unavailable()
    if reason:
        pytest.skip(f"no systemd container on this machine: {reason}")
    root = build_root()
    copy_tree(root)
    container = Container(root, tmp_path_factory.mktemp("nspawn") / "console.log")
    try:
        # The root is cached between runs; what a run installed or processed is not.
        container.run("rm", "-rf", "/srv/scans", "/var/lib/inbox-ocr", "/etc/inbox-ocr",
                      "/etc/systemd/system/inbox-ocr.service",
                      "/etc/systemd/system/inbox-ocr.service.d")
        container.run("env", "INBOX_OCR_EXTRAS=", "/opt/inbox-ocr/scripts/setup.sh",
                      timeout=1500)
        for step in INSTALL:
            container.run("sh", "-c", "cd /opt/inbox-ocr && exec \"$@\"", "sh", *step)
        # Watchdog test: a stall shows within seconds (the unit's WatchdogSec=30 stays).
        config = container.path(CONFIG)
        config.write_text(config.read_text().replace("stall_seconds = 600.0",
                                                     "stall_seconds = 5.0"))
        container.run("usermod", "-aG", "inbox-ocr", "scanner")
        container.run("systemctl", "start", "inbox-ocr", timeout=400)
        yield container
    finally:
        container.close()


RUN = uuid.uuid4().hex[:8].upper()  # every run's scans are new content


def scan(box: Container, name: str, lines: list[str]) -> str:
    """Drop a scan into the inbox as the scanner user would; returns its sha256."""
    staged = box.path(f"/home/scanner/{name}")
    write_sample(staged, [[*lines, f"Ref {RUN}"]])
    box.run("chown", "scanner:scanner", f"/home/scanner/{name}")
    box.run("runuser", "-u", "scanner", "--", "sh", "-c",
            f"umask 007 && cp /home/scanner/{name} /srv/scans/inbox/.{name}.part && "
            f"mv /srv/scans/inbox/.{name}.part /srv/scans/inbox/{name}")
    return hashlib.sha256(staged.read_bytes()).hexdigest()


def result(box: Container, stem: str, timeout: float = 180) -> dict[str, object]:
    path = box.path(f"/srv/scans/outbox/{stem}.json")
    box.wait_for(f"{stem}.json in the outbox", path.exists, timeout)
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_start_reaches_running_with_ready_and_queues_in_status(box: Container) -> None:
    state = box.show("inbox-ocr", "ActiveState", "SubState", "StatusText", "Type", "NRestarts")
    assert (state["ActiveState"], state["SubState"], state["Type"]) == ("active", "running",
                                                                          "notify")
    assert "queues split=" in state["StatusText"], state
    assert state["NRestarts"] == "0"


def test_a_scan_lands_in_the_outbox_with_the_documented_owner_and_mode(box: Container) -> None:
    sha = scan(box, "acme.png", ["ACME Supplies Ltd", "Invoice No: INV-2024-0042",
                                 "Tota1 due: GBP 161.88"])
    found = result(box, "acme")
    assert found["source"]["sha256"] == sha  # type: ignore[index]
    # The OCR workers and the model process really ran inside the sandbox.
    assert found["engine"]["name"] == "rapidocr"  # type: ignore[index]
    assert found["corrector"] == "llm:gemma-3-270m-q4_k_m.gguf"
    assert found["pages"][0]["correction"] == "ok"  # type: ignore[index]
    assert "INV-2024-0042" in found["pages"][0]["text"]  # type: ignore[index]
    for path in ("/srv/scans/outbox/acme.json", "/srv/scans/outbox/acme.txt",
                 "/srv/scans/archive/acme.png"):
        owner = box.run("stat", "-c", "%U:%G %a", path).stdout.split()
        assert owner[0] == "inbox-ocr:inbox-ocr" or path.startswith("/srv/scans/archive"), owner
        if "outbox" in path:
            assert owner[1] == "640", (path, owner)
    loaded = [e for e in box.journal("EVENT=model.loaded")]
    assert loaded and loaded[-1].get("SELF_TEST_SCORE")
    # The packaged model lives in the state folder, not in a home directory.
    assert loaded[-1]["MODEL"] == "/var/lib/inbox-ocr/models/gemma-3-270m-q4_k_m.gguf"


def test_journald_entries_find_one_documents_history(box: Container) -> None:
    sha = scan(box, "receipt.png", ["CAFE CENTRAL", "TOTAL 12.50"])
    result(box, "receipt")
    entries = box.journal(f"DOCUMENT_SHA256={sha}")
    events = [e["EVENT"] for e in entries]
    assert "document.admitted" in events and "document.processed" in events, events
    assert all(e.get("STAGE") for e in entries), [(e["EVENT"], e.get("STAGE")) for e in entries]
    assert not any(v == "null" for e in entries for v in e.values())


def test_the_hardening_holds_inside_the_service(box: Container) -> None:
    pid = box.show("inbox-ocr", "MainPID")["MainPID"]
    status = dict(line.split(":\t", 1) for line in
                  box.run("cat", f"/proc/{pid}/status").stdout.splitlines() if ":\t" in line)
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"  # a filter is active
    assert status["CapEff"].strip() == "0000000000000000"
    inside = ["nsenter", "-t", pid, "-m", "--"]
    denied = box.run(*inside, "touch", "/opt/inbox-ocr/written-by-the-service", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    box.run(*inside, "touch", "/var/lib/inbox-ocr/probe")  # ReadWritePaths are writable


def outward_address() -> str:
    """An address of this machine other than loopback (the container shares its network)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: picks the route, sends nothing
        except OSError as exc:
            pytest.skip(f"no route off this machine to test IPAddressDeny= with: {exc}")
        return str(probe.getsockname()[0])


def test_ip_address_deny_lets_only_loopback_through(box: Container) -> None:
    rules = box.show("inbox-ocr", "IPAddressDeny", "IPAddressAllow")
    assert rules["IPAddressDeny"] and rules["IPAddressAllow"], rules
    unit = [f"--property={name}={value}" for name, value in rules.items()]
    listeners = []
    for address in (outward_address(), "127.0.0.1"):
        server = socket.create_server((address, 0))
        threading.Thread(target=lambda s=server: [s.accept()[0].close() for _ in range(4)],
                         daemon=True).start()
        listeners.append(server)
    outward, loopback = (s.getsockname()[:2] for s in listeners)

    def connects(address: tuple[str, int], *properties: str) -> bool:
        code = (f"import socket; socket.create_connection({address!r}, timeout=3).close(); "
                "print('connected')")
        probe = box.run("systemd-run", "--wait", "--pipe", "--quiet", *properties,
                        "python3", "-c", code, check=False, timeout=60)
        return probe.stdout.strip() == "connected"

    try:
        assert connects(outward), "the probe cannot reach the host at all"
        assert not connects(outward, *unit), "IPAddressDeny= did not block an outward connection"
        assert connects(loopback, *unit), "IPAddressAllow=localhost did not let loopback through"
    finally:
        for server in listeners:
            server.close()


def test_reload_applies_a_setting_and_rejects_a_bad_file(box: Container) -> None:
    config = box.path(CONFIG)
    good = config.read_text()
    try:
        config.write_text(good.replace('level = "info"', 'level = "debug"'))
        box.run("systemctl", "reload", "inbox-ocr")
        box.wait_for("the reload", lambda: "configuration reloaded" in
                     box.show("inbox-ocr", "StatusText")["StatusText"], 30)
        config.write_text(good + "\n[watch]\nstable_secondz = 1\n")
        box.run("systemctl", "reload", "inbox-ocr", check=False)
        box.wait_for("the rejection", lambda: "reload rejected" in
                     box.show("inbox-ocr", "StatusText")["StatusText"], 30)
        assert box.show("inbox-ocr", "ActiveState")["ActiveState"] == "active"
    finally:
        config.write_text(good)
        box.run("systemctl", "reload", "inbox-ocr", check=False)


def test_a_wedged_pipeline_is_restarted_by_the_watchdog_with_nothing_lost(
        box: Container) -> None:
    dropin = box.path("/etc/systemd/system/inbox-ocr.service.d/hang.conf")
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text("[Service]\n"
                      "Environment=INBOXOCR_CRASH_AT=ocr.worker.hang:/var/lib/inbox-ocr/hang-once\n")
    try:
        box.run("systemctl", "daemon-reload")
        box.run("systemctl", "restart", "inbox-ocr", timeout=400)
        box.run("install", "-o", "inbox-ocr", "-m", "600", "/dev/null",
                "/var/lib/inbox-ocr/hang-once")
        restarts = int(box.show("inbox-ocr", "NRestarts")["NRestarts"])
        scan(box, "stuck.png", ["Invoice No: INV-77", "Total: 9.00"])
        box.wait_for("the watchdog restart", lambda: int(
            box.show("inbox-ocr", "NRestarts")["NRestarts"]) == restarts + 1, 240)
        found = result(box, "stuck", 300)  # processed after the restart: nothing lost
        assert "INV-77" in found["pages"][0]["text"]  # type: ignore[index]
        reasons = [e.get("MESSAGE", "") for e in box.journal("-p", "err")]
        assert any("watchdog.stalled" in m for m in reasons), reasons[-5:]
    finally:
        dropin.unlink()
        box.run("systemctl", "daemon-reload")
        box.run("systemctl", "restart", "inbox-ocr", timeout=400)


def test_stop_drains_and_exits_cleanly(box: Container) -> None:
    t0 = time.monotonic()
    since = box.run("date", "+%s").stdout.strip()
    box.run("systemctl", "stop", "inbox-ocr", timeout=120)
    seconds = time.monotonic() - t0
    state = box.show("inbox-ocr", "ActiveState", "Result", "ExecMainStatus", "TimeoutStopUSec")
    assert (state["ActiveState"], state["Result"], state["ExecMainStatus"]) == (
        "inactive", "success", "0")
    assert seconds < 90
    stopped = box.journal("EVENT=daemon.stopped")
    assert stopped
    # Nothing was left for systemd to kill (the multiprocessing resource tracker included).
    messages = [str(e.get("MESSAGE", "")) for e in box.journal(f"--since=@{since}")]
    assert not [m for m in messages if "SIGKILL" in m], messages
    box.run("systemctl", "start", "inbox-ocr", timeout=400)


def test_a_bad_config_at_start_is_not_restarted_forever(box: Container) -> None:
    config = box.path(CONFIG)
    good = config.read_text()
    try:
        config.write_text(good + "\n[nonsense]\nkey = 1\n")
        box.run("systemctl", "restart", "inbox-ocr", check=False, timeout=60)
        box.wait_for("the failed start", lambda: box.show(
            "inbox-ocr", "ActiveState")["ActiveState"] == "failed", 60)
        state = box.show("inbox-ocr", "NRestarts", "ExecMainStatus", "Result")
        assert (state["ExecMainStatus"], state["NRestarts"]) == ("2", "0"), state
    finally:
        config.write_text(good)
        box.run("systemctl", "reset-failed", "inbox-ocr", check=False)
        box.run("systemctl", "start", "inbox-ocr", timeout=400)


def test_the_sandboxed_unit_reports_the_systemd_version(box: Container) -> None:
    version = box.run("systemctl", "--version").stdout.split()[1]
    assert version == "252", version
    assert Path(box.root / "opt/inbox-ocr/.venv/bin/inbox-ocr").exists()
