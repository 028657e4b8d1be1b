"""Start the whole local stack in one terminal: web :8000, sandbox :8001, Celery worker and beat.

Ctrl-C stops all of them. Used by `make run`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

PROCESSES = {
    "web": [PY, "manage.py", "runserver", "127.0.0.1:8000"],
    "sandbox": [PY, "manage.py", "runsandbox", "127.0.0.1:8001"],
    "worker": [PY, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2"],
    "beat": [PY, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
}


def main() -> int:
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    env.setdefault("PYTHONUNBUFFERED", "1")
    (ROOT / "var" / "broker" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "broker" / "processed").mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    for name, cmd in PROCESSES.items():
        # Own process group, so Ctrl-C reaches each child once, through us.
        children[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
    print("Paraf: http://127.0.0.1:8000   sandbox: http://127.0.0.1:8001   (Ctrl-C stops everything)", flush=True)

    def stop(*_: object) -> None:
        for name, child in children.items():
            if child.poll() is None:
                if name in ("worker", "beat"):
                    child.terminate()  # Celery's main process shuts its pool down itself (warm shutdown)
                else:
                    os.killpg(child.pid, signal.SIGTERM)  # runserver's autoreloader has a child process
        deadline = time.monotonic() + 10
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"Paraf: {name} exited with {child.returncode}; stopping the rest.", flush=True)
                    stop()
                    return child.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
