from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.config.test_production_settings import PRODUCTION_ENV, ROOT


def test_collectstatic_builds_a_hashed_manifest_with_production_settings(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PERURI_", "PARAF_"))}
    env.update(PRODUCTION_ENV, DJANGO_STATIC_ROOT=str(tmp_path))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    # Our own assets and the vendored libraries are served with content hashes (whitenoise caches them forever).
    for name in ("css/app.css", "js/placement.js", "js/webview-listener.js"):
        hashed = manifest[name]
        assert hashed != name and (tmp_path / hashed).exists()
    assert any(name.startswith("vendor/pdfjs/") for name in manifest)
