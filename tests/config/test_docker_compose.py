"""No Docker engine runs here, so the compose file is checked statically: it parses, has the
production-like services with health checks, and refers only to files and modules that exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_declares_the_production_stack_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "sandbox", "db", "redis"} <= set(services)
    for name in ("web", "worker", "sandbox", "db", "redis"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in services["web"]["command"]
    assert "media" in compose["volumes"]
    assert any(str(v).startswith("media:") for v in services["web"]["volumes"])


def test_compose_refers_only_to_files_and_modules_that_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert (ROOT / "Dockerfile").exists()
    for service in compose["services"].values():
        build = service.get("build")
        if build:
            assert (ROOT / (build if isinstance(build, str) else build["context"])).is_dir()
        for env_file in service.get("env_file", []):
            if isinstance(env_file, dict):
                assert env_file.get("required") is False or (ROOT / env_file["path"]).exists()
            else:
                assert (ROOT / env_file).exists(), env_file
        for word in service.get("command", []):
            if word.endswith(":application"):
                module = word.split(":")[0]
                assert importlib.util.find_spec(module) is not None, module
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and not line.startswith("COPY . "):
            assert (ROOT / line.split()[1]).exists(), line
