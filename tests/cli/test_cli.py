"""The `paperboy` command as a person meets it: quick help, a version, results on stdout without
log lines, clear errors, topics shown as they are typed, and `serve` links that reach the server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from service import logs
from service.cli.main import cli, version
from tests.support.paths import REPO
from tests.web.test_serve import free_port, wait_until_serving

ROOT = REPO
PAPERBOY = [sys.executable, "-m", "service"]

# What `--help` must not load: the database, the web front, ranking, rendering, HTTP, settings.
HEAVY = (
    "alembic", "apscheduler", "bm25s", "email_validator", "fastapi", "httpx", "jinja2", "numpy",
    "premailer", "pydantic", "pydantic_settings", "sqlalchemy", "starlette", "uvicorn",
    "service.delivery.planning", "service.ranking.index", "service.ranking.rank", "service.digest.render", "service.delivery.runtime", "service.settings",
    "service.storage.store", "service.web",
)  # fmt: skip

HELP_EVERYWHERE = f"""
import json, sys
sys.argv = ["paperboy", "--help"]
from service.cli.main import cli, main
try:
    main()  # the console script's entry point
except SystemExit as exit:
    assert exit.code in (0, None), exit.code

def paths(group, prefix):
    for name, command in group.commands.items():
        yield [*prefix, name]
        if hasattr(command, "commands"):
            yield from paths(command, [*prefix, name])

helped = []
for path in paths(cli, []):
    assert cli.main([*path, "--help"], prog_name="paperboy", standalone_mode=False) == 0, path
    helped.append(" ".join(path))
heavy = {HEAVY!r}
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print("RESULT " + json.dumps({{"helped": helped, "loaded": loaded}}))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    return env | extra


def test_help_of_every_command_loads_no_heavy_module(tmp_path: Path) -> None:
    # An invalid setting proves the settings are not even read to show help.
    env = clean_env(PAPERBOY_LOG_LEVEL="nonsense")
    done = subprocess.run([sys.executable, "-c", HELP_EVERYWHERE], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage: paperboy [OPTIONS] COMMAND" in done.stdout
    result = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
    assert {"serve", "send", "subscribers list", "db upgrade", "doctor", "bounces import"} <= set(
        result["helped"]
    )
    assert result["loaded"] == []


def test_version_is_the_installed_distribution_s() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version() == declared
    done = subprocess.run(
        [*PAPERBOY, "--version"], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"paperboy {declared}"


class Paperboy:
    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.runner = env, CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, (
            f"paperboy {' '.join(args)} → {result.exit_code}\n{result.output}"
        )
        return result


@pytest.fixture
def paperboy(tmp_path: Path) -> Paperboy:
    run = Paperboy(
        {
            "PAPERBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "PAPERBOY_OUTBOX_DIR": str(tmp_path / "out"),
        }
    )
    run("db", "upgrade")
    return run


LOG_LINE = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR) ", re.M)


def test_commands_print_results_and_log_info_only_when_verbose(paperboy: Paperboy) -> None:
    quiet = paperboy("ingest", "--sample")
    assert quiet.stdout.startswith("sample: fetched 119, new 119")
    assert not LOG_LINE.search(quiet.stdout) and not LOG_LINE.search(quiet.stderr)

    verbose = paperboy("-v", "ingest", "--sample")
    assert "sample: fetched 119, new 0" in verbose.stdout and not LOG_LINE.search(verbose.stdout)
    assert re.search(r"^\S+ \S+ INFO service\.", verbose.stderr, re.M)


def test_command_log_levels() -> None:
    assert logs.command_level("INFO", verbose=False, long_running=False) == "WARNING"
    assert logs.command_level("ERROR", verbose=False, long_running=False) == "ERROR"
    assert logs.command_level("INFO", verbose=True, long_running=False) == "INFO"
    assert logs.command_level("DEBUG", verbose=True, long_running=False) == "DEBUG"
    assert logs.command_level("INFO", verbose=False, long_running=True) == "INFO"
    assert logs.command_level("WARNING", verbose=True, long_running=True) == "INFO"


def test_subscribers_show_topics_as_typed_and_count_in_words(paperboy: Paperboy) -> None:
    one = paperboy("subscribers", "add", "ada@example.org", "--topic", "category:cs.CL")
    assert "1 topic)" in one.stdout
    many = paperboy("subscribers", "add", "bob@example.org", "--topic", "author:Yann LeCun",
                    "--topic", "diffusion^2", "--exclude", "survey")  # fmt: skip
    assert "3 topics)" in many.stdout
    listed = paperboy("subscribers", "list").stdout.splitlines()
    assert listed[0].endswith("\tcategory:cs.CL")
    assert listed[1].endswith("\tauthor:Yann LeCun, diffusion^2, exclude:survey")

    wrong = paperboy("subscribers", "add", "cy@example.org", "--exclude", "category:cs.CV", code=2)
    assert "--exclude 'category:cs.CV'" in wrong.stderr


def test_subscribers_list_refuses_an_unknown_status(paperboy: Paperboy) -> None:
    bad = paperboy("subscribers", "list", "--status", "nonsense", code=2)
    assert "nonsense" in bad.stderr
    for status in ("pending", "active", "paused", "unsubscribed", "bounced", "complained"):
        assert status in bad.stderr
    assert paperboy("subscribers", "list", "--status", "paused").stdout.strip() == "no subscribers"


def test_serve_without_a_base_url_links_to_where_it_listens(tmp_path: Path) -> None:
    env = clean_env(
        PAPERBOY_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        PAPERBOY_OUTBOX_DIR=str(tmp_path / "outbox"),
    )
    subprocess.run(
        [*PAPERBOY, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60
    )
    subprocess.run(
        [*PAPERBOY, "ingest", "--sample"], env=env, check=True, capture_output=True, timeout=60
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([*PAPERBOY, "serve", "--port", str(port), "--no-scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_until_serving(process, url)
        with httpx.Client(base_url=url, timeout=10) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
            assert token
            answer = client.post("/subscribe", data={
                "email": "ada@example.org", "topic": ["segmentation"], "timezone": "UTC", "hour": "7",
                "cadence": "daily", "csrf_token": token.group(1),
            })  # fmt: skip
            assert answer.status_code == 200, answer.text
        for _ in range(100):
            mails = list((tmp_path / "outbox").glob("*.eml"))
            if mails:
                break
            time.sleep(0.1)
        assert len(mails) == 1
        assert f"{url}/confirm/" in mails[0].read_text()
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert f"links in emails point at {url} (PAPERBOY_BASE_URL is unset)" in output
    assert re.search(r"^\S+ \S+ INFO ", output, re.M), "serve keeps its INFO log lines"


def test_serve_warns_when_the_base_url_misses_it(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        PAPERBOY_DATABASE_URL=f"sqlite:///{tmp_path / 'stale.db'}",
        PAPERBOY_BASE_URL="http://127.0.0.1:8000",
    )
    # The schema check stops it right after the warning: the warning comes first.
    done = subprocess.run(
        [*PAPERBOY, "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        f"PAPERBOY_BASE_URL=http://127.0.0.1:8000 does not point at http://127.0.0.1:{port}"
        in done.stderr
    )


def test_dev_run_prepares_what_doctor_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        import dev
    finally:
        sys.path.remove(str(ROOT))
    for key in [k for k in os.environ if k.startswith("PAPERBOY_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'dev.db'}")
    monkeypatch.setenv("PAPERBOY_LISTING_DIR", str(tmp_path / "listings"))
    monkeypatch.setenv("PAPERBOY_OUTBOX_DIR", str(tmp_path / "outbox"))
    dev.prepare(Path(sys.executable).parent)
    assert (tmp_path / "listings").is_dir()
    doctor = subprocess.run(
        [*PAPERBOY, "doctor", "--json"], capture_output=True, text=True, timeout=60
    )
    checks = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert checks["schema"]["status"] == "ok"
    assert "listing folder" not in checks
