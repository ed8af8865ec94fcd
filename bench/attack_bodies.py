"""The hardening review's two high attacks, against a real `rightsdesk serve` (SQLite, default
limits): what they cost the server in memory and CPU.

    .venv/bin/python bench/attack_bodies.py                  # this checkout
    .venv/bin/python bench/attack_bodies.py --root ../old    # another checkout, side by side

Attacks (each on a fresh server; the figures are the server process's, from /proc):
- `multipart-90MiB`: 90 MiB of "a" as multipart/form-data to a route that takes no files
  (POST /v1/requests/X/verification);
- `confirm-4x90MiB`: four such bodies in parallel to POST /tasks/confirm;
- `staff-no-token-90MiB`: the same to a staff route without a token;
- `empty-parts-20k`: 20,000 empty file parts (2.2 MiB) to POST /status without a CSRF token.

Prints one row per attack and checkout: HTTP status, bytes the client got to send before the
answer, peak RSS growth (VmHWM) and server CPU seconds. Exits 1 when a target fails for the
first checkout given: peak RSS growth under 20 MB and CPU under 0.5 s for every attack.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"  # a bench-only key
MIB = 1024 * 1024
TARGET_RSS_MB = 20.0
TARGET_CPU_S = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_figures(pid: int) -> tuple[float, float]:
    """(VmHWM in MB, user+system CPU seconds) of a process."""
    hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / ticks


class Server:
    def __init__(self, root: Path, python: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="attack-"))
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
        env.update(
            RIGHTSDESK_ENV="test",
            RIGHTSDESK_DATA_KEY=KEY,
            RIGHTSDESK_DATA_DIR=str(self.dir),
            RIGHTSDESK_LOG_LEVEL="warning",
            PYTHONPATH=str(root),
        )
        subprocess.run(
            [python, "-m", "app.cli", "migrate"], cwd=root, env=env, check=True, capture_output=True
        )
        self.proc = subprocess.Popen(
            [python, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Sent:
    status: str = "-"
    sent: int = 0


def post(
    port: int, method: str, path: str, headers: dict[str, str], chunks: list[bytes], out: Sent
) -> None:
    """Sends the body chunk by chunk until the server answers or closes; records the status."""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(head.encode())
        s.setblocking(True)
        try:
            for chunk in chunks:
                s.sendall(chunk)
                out.sent += len(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while not data.endswith(b"\r\n") or b"\r\n" not in data:
                got = s.recv(65536)
                if not got:
                    break
                data += got
                if b"\r\n" in data:
                    break
        except OSError:
            pass
        out.status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "closed"


def big_multipart() -> tuple[dict[str, str], list[bytes]]:
    chunk = b"a" * MIB
    total = 90 * MIB
    return (
        {"Content-Type": "multipart/form-data; boundary=zz", "Content-Length": str(total)},
        [chunk] * 90,
    )


def empty_parts() -> tuple[dict[str, str], list[bytes]]:
    part = b'--zz\r\nContent-Disposition: form-data; name="attachment_1"; filename=""\r\n\r\n\r\n'
    body = part * 20_000 + b"--zz--\r\n"
    return (
        {"Content-Type": "multipart/form-data; boundary=zz", "Content-Length": str(len(body))},
        [body[i : i + 65536] for i in range(0, len(body), 65536)],
    )


ATTACKS = {
    "multipart-90MiB": ("POST", "/v1/requests/DSR-20261215-AAAAAA/verification", big_multipart, 1),
    "confirm-4x90MiB": ("POST", "/tasks/confirm", big_multipart, 4),
    "staff-no-token-90MiB": ("PATCH", "/v1/staff/requests/DSR-20261215-AAAAAA", big_multipart, 1),
    "empty-parts-20k": ("POST", "/status", empty_parts, 1),
}


def run(root: Path, python: str) -> list[tuple[str, str, int, float, float]]:
    rows = []
    for name, (method, path, body, parallel) in ATTACKS.items():
        server = Server(root, python)
        try:
            time.sleep(0.5)  # let start-up settle before the baseline reading
            rss0, cpu0 = proc_figures(server.proc.pid)
            headers, chunks = body()
            results = [Sent() for _ in range(parallel)]
            threads = [
                threading.Thread(target=post, args=(server.port, method, path, headers, chunks, r))
                for r in results
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rss1, cpu1 = proc_figures(server.proc.pid)
            status = ",".join(sorted({r.status for r in results}))
            sent = max(r.sent for r in results)
            rows.append((name, status, sent, rss1 - rss0, cpu1 - cpu0))
        finally:
            server.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", type=Path, help="checkout to serve (repeat)")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    roots = [r.resolve() for r in (args.root or [HERE])]
    failed = False
    print(
        f"{'checkout':<24} {'attack':<22} {'status':>7} {'sent MiB':>9} {'RSS +MB':>8} {'CPU s':>6}"
    )
    print("(sent: what the client got to send before the server answered or closed)")
    for i, root in enumerate(roots):
        for name, status, sent, rss, cpu in run(root.resolve(), args.python):
            print(
                f"{root.name[:24]:<24} {name:<22} {status:>7} {sent / MIB:>9.1f} "
                f"{rss:>8.1f} {cpu:>6.2f}"
            )
            if i == 0 and (rss >= TARGET_RSS_MB or cpu >= TARGET_CPU_S):
                failed = True
    print(
        "targets (first checkout): RSS growth < 20 MB, CPU < 0.5 s per attack:",
        "FAIL" if failed else "pass",
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
