"""Real local servers for tests: free loopback ports, `transformers serve` on a tiny model, and the
Gradio Space. One helper each, so every test that needs a served model uses the same launcher."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

BIN = Path(sys.executable).parent


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held together while they are picked, so none repeats)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


@contextmanager
def transformers_serve(model: Path, home: Path, env: dict[str, str], timeout: float = 120) -> Iterator[str]:
    """`transformers serve MODEL` on CPU and a free loopback port; yields http://127.0.0.1:<port>
    once /health answers. The server's log is home/serve.log (shown when it fails to start)."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "serve.log", "w") as log:
        proc = subprocess.Popen([str(BIN / "transformers"), "serve", str(model), "--host", "127.0.0.1",
                                 "--port", str(port), "--device", "cpu"],
                                env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(url + "/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("transformers serve did not start:\n" + (home / "serve.log").read_text()[-3000:])
                time.sleep(0.3)
            yield url
        finally:
            proc.kill()
            proc.wait(10)


def launch_space(refs: list[str], config: Any) -> tuple[Any, str]:
    """The Space's Blocks on results `refs`, launched without blocking; returns (demo, its URL)."""
    from globmed.space.app import build_demo, launch as launch_app

    demo = build_demo(refs, config)
    port = free_port()
    launch_app(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"
