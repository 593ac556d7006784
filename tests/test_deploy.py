"""The container files, checked statically (no Docker engine here) and their entrypoint run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_services_and_settings_names() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["db"]
    app = services["paperboy"]
    assert app["build"]["dockerfile"] == "deploy/Dockerfile"
    assert "8000:8000" in app["ports"]
    known = set(Settings.env_names())
    assert set(app["environment"]) <= known, set(app["environment"]) - known
    assert app["environment"]["PAPERBOY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert app["environment"]["PAPERBOY_SMTP_URL"].endswith("smtp://mailpit:1025}")


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^USER paperboy$", text, re.MULTILINE)
    assert "/healthz" in text and "HEALTHCHECK" in text
    for name in re.findall(r"(PAPERBOY_[A-Z_]+)=", text):
        assert name in Settings.env_names(), name


def test_entrypoint_migrates_then_passes_commands_through(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env["PAPERBOY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'e.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "entrypoint.sh"), "db", "status"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        from make_env_example import render
    finally:
        sys.path.pop(0)
    assert text == render(), "run deploy/make_env_example.py"
    named = set(re.findall(r"^#? ?(PAPERBOY_[A-Z_]+)[= ]", text, re.MULTILINE))
    assert named == set(Settings.env_names()), named ^ set(Settings.env_names())
    assert re.search(r"^PAPERBOY_SECRET_KEY=change-me$", text, re.MULTILINE)  # refused in production


def test_compose_runs_web_scheduler_and_two_workers_on_postgresql() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["paperboy"]["command"] == ["all"]
    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["environment"]["PAPERBOY_DELIVERY_QUEUE"] == "procrastinate"
    assert worker["image"] == services["paperboy"]["image"]
    assert "volumes" in services["db"] and services["mailpit"]["image"].startswith("axllent/mailpit")
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    for role in ("all", "web", "scheduler", "worker"):
        assert re.search(rf"^\s+{role}\)", entrypoint, re.MULTILINE), role
