"""The container files: checked statically, their entrypoint and healthcheck run for real, and the
image built and started where a container engine (podman, or docker with a running engine) is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from service.errors import ConfigError
from service.settings import Settings, load_settings
from tests.support.paths import REPO
from tests.support.requirements import need
from tests.web.test_serve import PAPERBOY, env_for, free_port, wait_until_serving

ROOT = REPO
sys.path.insert(0, str(ROOT / "deploy"))
try:
    import healthcheck
    from make_env_example import render
finally:
    sys.path.pop(0)


def test_compose_services_and_settings_names() -> None:
    services = compose_without_env_file()
    assert services["db"]["image"].startswith("postgres:16")
    assert "healthcheck" in services["db"]
    app = services["paperboy"]
    assert app["build"]["dockerfile"] == "deploy/Dockerfile"
    assert app["ports"] == ["127.0.0.1:8000:8000"]  # a proxy publishes it (PAPERBOY_PUBLISH)
    known = set(Settings.env_names())
    assert set(app["environment"]) <= known, set(app["environment"]) - known
    assert app["environment"]["PAPERBOY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert app["environment"]["PAPERBOY_SMTP_URL"] == "smtp://mailpit:1025"


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
    assert text == render(), "run deploy/make_env_example.py"
    named = set(re.findall(r"^#? ?(PAPERBOY_[A-Z_]+)[= ]", text, re.MULTILINE))
    assert named == set(Settings.env_names()), named ^ set(Settings.env_names())
    assert re.search(
        r"^PAPERBOY_SECRET_KEY=change-me$", text, re.MULTILINE
    )  # refused in production


def test_compose_runs_web_scheduler_and_two_workers_on_postgresql() -> None:
    services = compose_without_env_file()
    assert services["paperboy"]["command"] == ["all"]
    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["deploy"]["mode"] == "replicated"  # podman-compose starts one worker without it
    assert worker["environment"]["PAPERBOY_DELIVERY_QUEUE"] == "procrastinate"
    assert worker["image"] == services["paperboy"]["image"]
    assert "volumes" in services["db"] and services["mailpit"]["image"].startswith(
        "axllent/mailpit"
    )
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    for role in ("all", "web", "scheduler", "worker"):
        assert re.search(rf"^\s+{role}\)", entrypoint, re.MULTILINE), role


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME-default}, as `docker compose config` does."""
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3) or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\{(\w+)(?:(:?-)([^}]*))?\}", one, value)


def compose_without_env_file() -> dict:  # type: ignore[type-arg]
    """docker-compose.yml as `docker compose up` sees it on a fresh clone: no .env, nothing exported."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for service in services.values():
        service["environment"] = {
            k: interpolate(v, {}) for k, v in (service.get("environment") or {}).items()
        }
        service["ports"] = [interpolate(p, {}) for p in service.get("ports") or []]
        if "image" in service:
            service["image"] = interpolate(service["image"], {})
    return services


def test_compose_without_env_refuses_to_start_and_says_how_to_set_the_key() -> None:
    app = compose_without_env_file()["paperboy"]
    assert app["environment"]["PAPERBOY_ENV"] == "production"
    assert app["environment"]["PAPERBOY_SECRET_KEY"] in ("", None)
    with pytest.raises(ConfigError) as refused:
        load_settings(
            **{k.removeprefix("PAPERBOY_").lower(): v for k, v in app["environment"].items()}
        )
    assert "PAPERBOY_SECRET_KEY" in str(refused.value) and "token_urlsafe" in str(refused.value)
    # The image alone (docker run without compose) is in production mode too.
    assert re.search(
        r"^\s+PAPERBOY_ENV=production\b", (ROOT / "deploy" / "Dockerfile").read_text(), re.MULTILINE
    )


def test_entrypoint_stops_at_once_on_a_missing_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update(
        PAPERBOY_ENV="production",
        PAPERBOY_SECRET_KEY="",
        PAPERBOY_DATABASE_URL=f"sqlite:///{tmp_path / 'e.db'}",
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    result = subprocess.run(["sh", str(ROOT / "deploy" / "entrypoint.sh"), "all"], env=env,
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode != 0
    assert "PAPERBOY_SECRET_KEY" in result.stderr and "token_urlsafe" in result.stderr
    assert "database not reachable" not in result.stderr
    assert not (tmp_path / "e.db").exists()  # nothing migrated, nothing served


def test_mailpit_and_the_web_port_are_reachable_from_this_machine_only() -> None:
    services = compose_without_env_file()
    assert services["mailpit"]["ports"], "Mailpit's UI should be published for the operator"
    for port in services["mailpit"]["ports"] + services["paperboy"]["ports"]:
        assert str(port).startswith("127.0.0.1:"), port


def test_every_image_is_pinned_to_a_version() -> None:
    images = [s["image"] for s in compose_without_env_file().values() if "image" in s]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE) == ["${BASE_IMAGE}"] * 2
    images += re.findall(r"^ARG BASE_IMAGE=(\S+)", dockerfile, re.MULTILINE)
    assert len(images) >= 5
    version = re.search(
        r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE
    ).group(1)  # type: ignore[union-attr]
    assert (
        compose_without_env_file()["paperboy"]["image"] == f"paperboy:{version}"
    )  # bumped with a release
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag != "latest" and re.search(r"\d+\.\d+", tag), image


def test_the_image_holds_only_the_pinned_virtualenv() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    runtime = text.rsplit("\nFROM ", 1)[1]
    assert re.findall(r"^COPY --from=build (\S+)", runtime, re.MULTILINE) == ["/opt/paperboy"]
    assert "/wheels" not in text and "pip install" not in runtime
    assert "--constraint constraints.txt" in text and "compileall" in text
    pins = (ROOT / "deploy" / "constraints.txt").read_text().splitlines()
    names = {p.split("==")[0].lower() for p in pins if p and not p.startswith("#")}
    assert all("==" in p for p in pins if p and not p.startswith("#"))
    assert {"fastapi", "sqlalchemy", "psycopg", "procrastinate", "alembic"} <= names
    assert not names & {"paperboy-digest", "pip", "setuptools"}


def test_dockerignore_keeps_the_build_context_small_and_secret_free() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "var", ".env", "tests", "**/__pycache__"} <= ignored
    # ...but not what the Dockerfile copies.
    copied = re.findall(
        r"^COPY (?!--from)(.+) \S+$", (ROOT / "deploy" / "Dockerfile").read_text(), re.MULTILINE
    )
    for source in " ".join(copied).split():
        assert source.split("/")[0] not in ignored and source not in ignored, source


def test_healthcheck_follows_the_role_and_port() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(
        r"^HEALTHCHECK .*\\\n\s+CMD \[\"python\", \"/usr/local/bin/paperboy-healthcheck\"\]",
        text,
        re.MULTILINE,
    )
    assert "COPY deploy/healthcheck.py /usr/local/bin/paperboy-healthcheck" in text
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    assert entrypoint.count('--port "${PORT:-8000}"') == 2  # all, web
    assert (
        healthcheck.serving_port(["paperboy", "serve", "--host", "0.0.0.0", "--port", "9123"])
        == 9123
    )
    assert healthcheck.serving_port(["paperboy", "worker"]) is None
    assert healthcheck.serving_port(["paperboy", "scheduler"]) is None


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[int]:
    env = env_for(tmp_path)
    subprocess.run(
        [*PAPERBOY, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60
    )
    port = free_port()
    process = subprocess.Popen([*PAPERBOY, "serve", "--port", str(port), "--no-scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_healthcheck_asks_a_web_role_on_its_port(
    serving: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        healthcheck.check(
            ["python", "paperboy", "serve", "--host", "0.0.0.0", "--port", str(serving)]
        )
        is None
    )
    monkeypatch.setenv("PORT", str(serving))
    assert healthcheck.check(["python", "paperboy", "serve"]) is None
    monkeypatch.setenv("PORT", str(free_port()))  # nothing listens there
    assert "healthz" in (healthcheck.check(["python", "paperboy", "serve"]) or "")


def test_healthcheck_is_not_healthy_while_the_entrypoint_starts_the_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by deploy/smoke.sh: the web role was "healthy" (its database answered) while the
    # entrypoint was still migrating, before anything served on $PORT.
    from service.settings import get_settings

    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    get_settings.cache_clear()
    try:
        for role in ("web", "all", "worker", "scheduler"):
            starting = healthcheck.check(["/bin/sh", "/usr/local/bin/paperboy-entrypoint", role])
            assert "starting" in (starting or ""), role
        assert healthcheck.check(["python", "/opt/paperboy/bin/paperboy", "worker"]) is None
    finally:
        get_settings.cache_clear()


def test_healthcheck_asks_a_worker_or_scheduler_for_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.settings import get_settings

    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    get_settings.cache_clear()
    assert healthcheck.check(["python", "paperboy", "worker"]) is None
    assert healthcheck.check(["python", "paperboy", "scheduler"]) is None
    monkeypatch.setenv(
        "PAPERBOY_DATABASE_URL", f"postgresql+psycopg://paperboy:x@127.0.0.1:{free_port()}/paperboy"
    )
    get_settings.cache_clear()
    try:
        assert "database unreachable" in (healthcheck.check(["python", "paperboy", "worker"]) or "")
    finally:
        get_settings.cache_clear()


def smoke_runnable() -> None:
    """deploy/smoke.sh drives podman; skip (or, in CI, fail) naming why it cannot run here."""
    if os.geteuid() != 0:
        need("container engine", "deploy/smoke.sh needs root (debootstrap, apt, podman's store)")
    if not shutil.which("podman"):
        need(
            "container engine",
            "podman is not installed (apt-get install podman buildah runc debootstrap; "
            ".ci/run does)",
        )


@pytest.mark.container
def test_the_image_builds_refuses_without_a_key_and_serves_on_port() -> None:
    """deploy/smoke.sh, for real: the image built from deploy/Dockerfile refuses to start without a
    key, runs as uid 10001 and is healthy as `web` on $PORT and as `scheduler`; then the compose
    stack (PostgreSQL, web+scheduler, two workers, a mail catcher) takes a subscription from the
    web form, confirmed from the caught mail, and delivers exactly one digest to it."""
    smoke_runnable()
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "smoke.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert "PASS: exactly one digest" in result.stdout
