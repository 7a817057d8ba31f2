"""``towngrid demo`` and ``towngrid serve``: in-process for the refusals and arguments, and
end-to-end in a subprocess against a fresh data directory."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from towngrid.demo import serving

TOWNGRID = shutil.which("towngrid", path=str(Path(sys.executable).parent)) or "towngrid"


def test_demo_refused_in_production(db, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="生产模式|production"):
        call_command("demo", "--build-only")


def test_demo_reuses_and_serves(demo_town, db, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(serving, "serve", lambda **kw: calls.append(kw))
    # The command imported serve by name; patch it there too.
    from towngrid.demo.management.commands import demo as demo_command

    monkeypatch.setattr(demo_command, "serve", lambda **kw: calls.append(kw))
    call_command("demo", "--port", "8123", "--host", "127.0.0.1", "--threads", "4", "--cases", "0")
    out = capsys.readouterr().out
    assert "Reusing" in out
    assert "http://127.0.0.1:8123/" in out
    assert "gridworker" in out and "towngrid-demo" in out
    assert calls == [{"host": "127.0.0.1", "port": 8123, "threads": 4}]


def test_demo_rebuild(demo_town, db, capsys):
    from towngrid.grids.models import GridNode

    before = sorted(GridNode.objects.values_list("code", "boundary"))
    call_command("demo", "--build-only", "--rebuild", "--no-progress", "--cases", "0")
    out = capsys.readouterr().out
    assert "Removing" in out and "Built in" in out
    assert sorted(GridNode.objects.values_list("code", "boundary")) == before


def test_browse_url_and_lan_hosts(settings):
    assert serving.browse_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert serving.browse_url("0.0.0.0", 8080) == "http://127.0.0.1:8080/"
    assert serving.browse_url("::1", 8000) == "http://[::1]:8000/"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    serving.allow_any_host()
    assert "*" in settings.ALLOWED_HOSTS


def test_serve_arguments(monkeypatch):
    from towngrid.demo.management.commands import serve as serve_command

    calls = []
    monkeypatch.setattr(serve_command, "serve", lambda **kw: calls.append(kw))
    call_command("serve", "--port", "9001", "--threads", "2")
    assert calls == [{"host": "127.0.0.1", "port": 9001, "threads": 2}]


def test_towngrid_static_files_are_findable():
    """The pages link /static/towngrid/app.css; WhiteNoise serves what the finders find."""
    from django.contrib.staticfiles import finders

    assert finders.find("towngrid/app.css"), (
        "towngrid/static/ is not a static files location: settings.STATICFILES_DIRS needs "
        "BASE_DIR / 'static' (towngrid is not an installed app, so the app finder skips it)"
    )


# --- end to end ------------------------------------------------------------------------------


def _env(data_dir: Path) -> dict:
    env = dict(os.environ)
    # Always the embedded SQLite in the temporary data dir, even when the suite runs against
    # PostgreSQL: the subprocess must never build into a shared database.
    for name in ("DATABASE_URL", "TOWNGRID_PRODUCTION", "TOWNGRID_SECRET_KEY"):
        env.pop(name, None)
    env["TOWNGRID_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(*args: str, env: dict, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [TOWNGRID, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    return proc, time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str, bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=5) as resp:
            return resp.status, resp.headers.get("Location", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", ""), err.read()


def _wait_until_up(proc: subprocess.Popen, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read()}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server did not come up on {url}")


@pytest.fixture(scope="module")
def built_data_dir(tmp_path_factory):
    """A data dir with the demo built by ``towngrid demo --build-only --data-dir DIR``."""
    data_dir = tmp_path_factory.mktemp("demo-data")
    env = _env(tmp_path_factory.mktemp("elsewhere"))  # --data-dir must win over the variable
    first, first_s = _run(
        "demo",
        "--build-only",
        "--no-progress",
        "--cases",
        "0",
        "--data-dir",
        str(data_dir),
        env=env,
    )
    assert first.returncode == 0, first.stderr
    return data_dir, env, first, first_s


def test_build_only_end_to_end(built_data_dir):
    data_dir, env, first, first_s = built_data_dir
    assert (data_dir / "towngrid.sqlite3").exists()
    assert "Built in" in first.stdout
    assert "317 micro-grids" in first.stdout
    for username in ("leader", "gridworker", "admin"):
        assert username in first.stdout

    second, second_s = _run(
        "demo", "--build-only", "--cases", "0", "--data-dir", str(data_dir), env=env
    )
    assert second.returncode == 0, second.stderr
    assert "Reusing" in second.stdout and "Built in" not in second.stdout

    stats, _ = _run(
        "shell",
        "-c",
        "from towngrid.grids.models import GridNode;"
        "print(GridNode.objects.filter(level=4).count())",
        "--data-dir",
        str(data_dir),
        env=env,
    )
    # Django 5.2's shell may first announce its automatic imports; the answer is the last line.
    assert stats.stdout.strip().splitlines()[-1] == "317", stats.stderr


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_serves_pages_and_static_files(built_data_dir, command):
    data_dir, env, *_ = built_data_dir
    port = _free_port()
    proc = subprocess.Popen(
        [TOWNGRID, command, "--port", str(port), "--data-dir", str(data_dir)]
        + (["--cases", "0"] if command == "demo" else []),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base + "/")
        status, location, _ = _get(base + "/")
        assert status == 302 and "login" in location
        status, _, body = _get(base + "/accounts/login/")
        assert status == 200
        # Static files straight from the finders through WhiteNoise, no collectstatic.
        status, _, body = _get(base + "/static/admin/css/base.css")
        assert status == 200 and body
        status, _, body = _get(base + "/static/towngrid/app.css")
        assert status == 200 and body
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    if command == "demo":
        assert f"http://127.0.0.1:{port}/" in out
        assert "towngrid-demo" in out
