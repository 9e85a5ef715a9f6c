"""The production-shaped deployment: docker-compose.yml, Dockerfile, deploy/.

No Docker engine here, so these check what a wrong edit would break: every Wayhouse service
runs the same image with the same data volume, the broker keeps the embedded broker's auth and
queue settings (render_conf), ingest workers have distinct stable ids, the start order and
health checks hold. The broker config and its reload script also run against the local
Mosquitto when there is one; `docker compose config` runs when the compose plugin exists.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from fnmatch import fnmatch
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import typer
import yaml

from wayhouse.cli.main import app
from wayhouse.config import INGEST_USER, PROJECT_ROOT, Settings
from wayhouse.platform.devices.credentials import hash_password, render_acl
from wayhouse.platform.services.mosquitto import MqttPaths, render_conf

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
DEPLOY = PROJECT_ROOT / "deploy"
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "mosquitto.conf"
RUN_SH = DEPLOY / "mosquitto" / "run.sh"

INFRA = {"db", "mosquitto"}
ONE_SHOT = {"migrate", "provision"}
NAMED_VOLUMES = {"db-data", "wayhouse-data", "mosquitto-auth", "mosquitto-data"}
# Directives of render_conf that are about where the embedded broker lives, not how it behaves.
PLACE_DIRECTIVES = {
    "pid_file",
    "persistence_location",
    "log_dest",
    "password_file",
    "acl_file",
    "listener",
    "user",
}


# --- helpers ---------------------------------------------------------------------------
_VAR = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's variable interpolation (``${X}``, ``${X:-default}``, ``${X-default}``, ``$$``)."""
    env = env or {}

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, default = m.group(2), m.group(3)
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return _VAR.sub(sub, value)


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of every mount of a service (short or long syntax)."""
    mounts = []
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            source, target = parts[0], parts[1]
            read_only = len(parts) > 2 and "ro" in parts[2].split(",")
        else:
            source, target, read_only = v.get("source", ""), v["target"], bool(v.get("read_only"))
        mounts.append((source, target, read_only))
    return mounts


def named_mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {
        src: (target, ro)
        for src, target, ro in volume_mounts(service)
        if src and not src.startswith((".", "/", "~"))
    }


def parse_mosquitto_conf(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value.strip())
    return out


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(interpolate(str(p)).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def wayhouse_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if name not in INFRA}


@pytest.fixture(scope="module")
def broker_conf() -> dict[str, list[str]]:
    return parse_mosquitto_conf(MOSQUITTO_CONF.read_text())


@pytest.fixture(scope="module")
def data_dir(wayhouse_services: dict[str, dict[str, Any]]) -> str:
    return env_of(wayhouse_services["api"])["WAYHOUSE_DATA_DIR"]


# --- the compose file ------------------------------------------------------------------
def test_compose_file_shape(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the compose spec has no `version:`; drop it"
    expected = {"db", "migrate", "provision", "mosquitto", "api", "ui", "sim"}
    assert expected <= set(compose["services"])
    assert set(compose) <= {"name", "services", "volumes", "networks", "configs", "secrets"} | {
        k for k in compose if k.startswith("x-")
    }


def test_every_wayhouse_service_runs_the_same_image_with_the_same_data(
    wayhouse_services: dict[str, dict[str, Any]], data_dir: str
) -> None:
    assert PurePosixPath(data_dir).is_absolute()
    images = {name: s.get("image") for name, s in wayhouse_services.items()}
    builds = {name: s.get("build") for name, s in wayhouse_services.items()}
    assert len(set(images.values())) == 1 and None not in images.values(), images
    assert all(b == builds["api"] for b in builds.values()), builds
    assert builds["api"]["context"] == "." and builds["api"].get("dockerfile", "Dockerfile") == (
        "Dockerfile"
    )
    for name, s in wayhouse_services.items():
        assert "entrypoint" not in s, f"{name}: the image's ENTRYPOINT (wayhouse) must apply"
        env = env_of(s)
        assert env["WAYHOUSE_DATA_DIR"] == data_dir, name
        mounts = named_mounts(s)
        assert mounts.get("wayhouse-data") == (data_dir, False), f"{name}: {mounts}"
        # `devices sync` writes passwd/acl to $WAYHOUSE_DATA_DIR/mosquitto (services/mosquitto.py).
        auth_dir = str(MqttPaths(Path(data_dir) / "mosquitto").password_file.parent)
        assert mounts.get("mosquitto-auth") == (auth_dir, False), f"{name}: {mounts}"


def test_services_reach_db_and_broker_by_service_name(
    services: dict[str, dict[str, Any]],
    wayhouse_services: dict[str, dict[str, Any]],
    broker_conf: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    db_env = env_of(services["db"])
    (listener,) = broker_conf["listener"]
    broker_port = int(listener.split()[0])
    for name, s in wayhouse_services.items():
        env = env_of(s)
        db = urlsplit(env["WAYHOUSE_DB_URL"])
        assert db.scheme == "postgresql" and db.hostname == "db" and (db.port or 5432) == 5432
        assert db.username == db_env["POSTGRES_USER"], name
        assert db.password == db_env["POSTGRES_PASSWORD"], name
        assert db.path == "/" + db_env["POSTGRES_DB"], name
        mqtt = urlsplit(env["WAYHOUSE_MQTT_URL"])
        assert mqtt.scheme == "mqtt" and mqtt.hostname == "mosquitto", name
        assert mqtt.port == broker_port, name
        assert mqtt.password is None, f"{name}: passwords come from the shared secrets folder"
        # Settings read it the way the processes will.
        for key in list(os.environ):
            if key.startswith("WAYHOUSE_"):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("WAYHOUSE_DATA_DIR", str(tmp_path))
        settings = Settings()
        target = settings.mqtt()
        assert (target.host, target.port, target.username) == ("mosquitto", 1883, INGEST_USER)
        assert target.password == (tmp_path / "secrets" / "ingest_password").read_text().strip()
        assert settings.sqlalchemy_url().startswith("postgresql+psycopg://wayhouse:")


def test_db_password_is_configurable_with_a_local_default(services: dict[str, Any]) -> None:
    raw = services["db"]["environment"]["POSTGRES_PASSWORD"]
    assert raw.startswith("${") and ":-" in raw, "POSTGRES_PASSWORD from an env var with a default"
    assert interpolate(raw) != ""
    assert interpolate(raw, {"WAYHOUSE_DB_PASSWORD": "s3cret"}) == "s3cret"
    for s in services.values():
        db_url = (s.get("environment") or {}).get("WAYHOUSE_DB_URL")
        if db_url:
            assert "s3cret@db" in interpolate(db_url, {"WAYHOUSE_DB_PASSWORD": "s3cret"})


def test_commands_are_wayhouse_cli_commands(wayhouse_services: dict[str, Any]) -> None:
    expected = {
        "migrate": ["db", "upgrade"],
        "provision": ["devices", "sync"],
        "api": ["api"],
        "ui": ["ui"],
        "sim": ["sim", "--scenario", "default"],
    }
    for name, argv in expected.items():
        assert wayhouse_services[name]["command"] == argv, name
    root = typer.main.get_command(app)
    for name, s in wayhouse_services.items():
        argv = s["command"]
        assert isinstance(argv, list), f"{name}: exec form, no shell"
        cmd, rest = root, list(argv)
        while isinstance(cmd, click.Group) and rest and rest[0] in cmd.commands:
            cmd = cmd.commands[rest.pop(0)]
        assert not isinstance(cmd, click.Group), f"{name}: `wayhouse {' '.join(argv)}` is a group"
        # Parses the options as the CLI would, without running the command.
        try:
            cmd.make_context(cmd.name, rest)
        except click.UsageError as exc:
            pytest.fail(f"{name}: `wayhouse {' '.join(argv)}`: {exc.format_message()}")


def test_ingest_workers_have_distinct_stable_ids(
    wayhouse_services: dict[str, dict[str, Any]],
) -> None:
    workers = {n: s for n, s in wayhouse_services.items() if s["command"][0] == "ingest"}
    assert len(workers) >= 2, "at least two ingest workers"
    ids: dict[str, str] = {}
    for name, s in workers.items():
        argv = s["command"]
        if "--worker-id" in argv:
            worker_id = argv[argv.index("--worker-id") + 1]
        else:
            worker_id = s["environment"].get("WAYHOUSE_INGEST_WORKER_ID", "")
        assert worker_id, f"{name}: no worker id (the default would be shared by every worker)"
        assert "$" not in worker_id, f"{name}: the id must be a literal, stable across re-creates"
        # One container per id: a replicated service would run several clients with one id.
        replicas = (s.get("deploy") or {}).get("replicas", 1)
        assert replicas == 1 and s.get("scale", 1) == 1, f"{name}: one container per worker id"
        ids[name] = worker_id
    assert len(set(ids.values())) == len(ids), f"worker ids collide: {ids}"


def test_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    assert declared >= NAMED_VOLUMES
    for name, s in services.items():
        for source in named_mounts(s):
            assert source in declared, f"{name} mounts undeclared volume {source}"
    assert named_mounts(services["db"])["db-data"] == ("/var/lib/postgresql/data", False)


def test_broker_config_keeps_the_embedded_broker_settings(
    broker_conf: dict[str, list[str]], tmp_path: Path
) -> None:
    assert broker_conf["allow_anonymous"] == ["false"]
    assert broker_conf.get("per_listener_settings", ["false"]) == ["false"]
    embedded = parse_mosquitto_conf(
        render_conf(Settings(data_dir=tmp_path), MqttPaths(tmp_path / "mosquitto"), None)
    )
    behaviour = {k: v for k, v in embedded.items() if k not in PLACE_DIRECTIVES}
    for key in (
        "max_queued_messages",
        "max_queued_bytes",
        "persistent_client_expiration",
        "max_inflight_messages",
        "allow_anonymous",
    ):
        assert key in behaviour, f"render_conf no longer sets {key}; update this test"
    for key, value in behaviour.items():
        assert broker_conf.get(key) == value, f"{key}: compose {broker_conf.get(key)} != {value}"
    for key in ("password_file", "acl_file", "persistence_location", "listener"):
        assert len(broker_conf.get(key, [])) == 1, key


def test_broker_mounts_match_its_config(
    services: dict[str, dict[str, Any]], broker_conf: dict[str, list[str]]
) -> None:
    broker = services["mosquitto"]
    assert str(broker["image"]).startswith("eclipse-mosquitto:2")
    mounts = named_mounts(broker)
    auth_target, auth_ro = mounts["mosquitto-auth"]
    assert auth_ro, "the broker only reads the auth files"
    for key in ("password_file", "acl_file"):
        assert str(PurePosixPath(broker_conf[key][0]).parent) == auth_target, key
    data_target, data_ro = mounts["mosquitto-data"]
    assert not data_ro
    assert broker_conf["persistence_location"][0].rstrip("/") == data_target
    assert "wayhouse-data" not in mounts, "the broker must not see the Wayhouse secrets"

    # deploy/mosquitto is bind-mounted; the entrypoint runs run.sh from there with its
    # default config path, which must be this mosquitto.conf.
    binds = {t: s for s, t, _ in volume_mounts(broker) if s.startswith(".")}
    deploy_target = next(t for t, s in binds.items() if s.rstrip("/") == "./deploy/mosquitto")
    entrypoint = broker["entrypoint"]
    assert entrypoint[-1] == f"{deploy_target}/run.sh"
    script = RUN_SH.read_text()
    assert f"${{MOSQUITTO_CONF:-{deploy_target}/mosquitto.conf}}" in script
    assert f"${{WAYHOUSE_AUTH_DIR:-{auth_target}}}" in script

    (listener,) = broker_conf["listener"]
    assert container_ports(broker) == {int(listener.split()[0])}


def test_broker_runs_as_the_owner_of_the_auth_files(services: dict[str, Any]) -> None:
    """`devices sync` writes passwd/acl mode 0600 as the Wayhouse image's user; Mosquitto
    reads them as its own user, so the two must be the same uid and gid."""
    text = DOCKERFILE.read_text()
    uid = re.search(r"^ARG WAYHOUSE_UID=(\d+)$", text, re.M)
    gid = re.search(r"^ARG WAYHOUSE_GID=(\d+)$", text, re.M)
    assert uid and gid
    assert services["mosquitto"]["user"] == f"{uid.group(1)}:{gid.group(1)}"
    assert uid.group(1) != "0"


def test_healthchecks(services: dict[str, dict[str, Any]], broker_conf: dict[str, Any]) -> None:
    for name in ("db", "mosquitto", "api"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "pg_isready" in healthcheck_text(services["db"])
    port = int(broker_conf["listener"][0].split()[0])
    assert f":{port:04X} " in healthcheck_text(services["mosquitto"])
    api = healthcheck_text(services["api"])
    api_port = int(env_of(services["api"])["WAYHOUSE_API_PORT"])
    assert f"127.0.0.1:{api_port}/health" in api
    assert container_ports(services["api"]) == {api_port}
    ui_port = int(env_of(services["ui"])["WAYHOUSE_UI_PORT"])
    assert container_ports(services["ui"]) == {ui_port}
    for name in ("api", "ui"):
        assert env_of(services[name])[f"WAYHOUSE_{name.upper()}_HOST"] == "0.0.0.0"
    for name, s in services.items():
        if "healthcheck" in s and "healthcheck.py" in healthcheck_text(s):
            assert "/app/deploy/healthcheck.py" in healthcheck_text(s), name


def test_start_order_and_restart_policies(services: dict[str, dict[str, Any]]) -> None:
    def needs(name: str) -> dict[str, str]:
        deps = services[name].get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on with conditions"
        return {dep: spec["condition"] for dep, spec in deps.items()}

    assert needs("migrate") == {"db": "service_healthy"}
    assert needs("provision")["migrate"] == "service_completed_successfully"
    assert needs("mosquitto")["provision"] == "service_completed_successfully"
    for name, s in services.items():
        for dep, condition in needs(name).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} health"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{name} waits for long-running {dep} to exit"
        if name in ONE_SHOT:
            assert s.get("restart", "no") == "no", name
        else:
            assert s.get("restart") in ("always", "unless-stopped", "on-failure"), name
        if name not in INFRA | ONE_SHOT:
            assert needs(name) == {
                "db": "service_healthy",
                "migrate": "service_completed_successfully",
                "provision": "service_completed_successfully",
                "mosquitto": "service_healthy",
            }, name


def test_db_is_timescaledb_on_postgres_15(services: dict[str, dict[str, Any]]) -> None:
    image = services["db"]["image"]
    repo, _, tag = image.partition(":")
    assert repo == "timescale/timescaledb" and "pg15" in tag


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no `docker compose` here (the docker CLI lacks the compose plugin): "
    "`docker compose config -q` not run; the structure is checked above",
)
def test_docker_compose_config_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr


# --- image -----------------------------------------------------------------------------
def test_dockerfile(data_dir: str) -> None:
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    runs = " ".join(line for line in lines if line.startswith("RUN "))
    assert "pip install --no-deps -r requirements.lock" in runs
    assert "pip install --no-deps -e ." in runs
    assert runs.index("requirements.lock") < runs.index("-e .")
    assert "COPY . ." in lines, "the whole tree (the package relies on its symlinks)"
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    entrypoints = [line for line in lines if line.startswith("ENTRYPOINT ")]
    assert entrypoints[-1:] == ['ENTRYPOINT ["wayhouse"]']
    env = " ".join(line for line in lines if line.startswith("ENV "))
    assert f"WAYHOUSE_DATA_DIR={data_dir}" in env
    # The mount points exist in the image, so fresh named volumes take the user's ownership.
    assert '"${WAYHOUSE_DATA_DIR}" "${WAYHOUSE_DATA_DIR}/mosquitto"' in runs


def test_dockerignore_keeps_local_state_out_and_the_code_in() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        hit = False
        for p in patterns:
            negate = p.startswith("!")
            p = p.lstrip("!").rstrip("/")
            if fnmatch(path, p) or fnmatch(path, p.replace("**/", "")):
                hit = not negate
        return hit

    for path in (".venv", "var", ".git", ".env"):
        assert ignored(path), f"{path} must not go into the image"
    needed = ["pyproject.toml", "requirements.lock", "deploy", "wayhouse"]
    needed += [link.name for link in (PROJECT_ROOT / "wayhouse").iterdir() if link.is_symlink()]
    for path in needed:
        assert not ignored(path), f"{path} is needed in the image"


# --- deploy/healthcheck.py -------------------------------------------------------------
class _StatusHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(int(self.path.strip("/")))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_healthcheck(http_server: str) -> None:
    hc = load_module(DEPLOY / "healthcheck.py", "wayhouse_deploy_healthcheck")
    assert hc.main([f"{http_server}/200"]) == 0
    assert hc.main([f"{http_server}/404"]) == 1
    assert hc.main(["--max-status", "499", f"{http_server}/404"]) == 0
    assert hc.main(["--max-status", "499", f"{http_server}/503"]) == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert hc.main(["--timeout", "2", f"http://127.0.0.1:{closed}/health"]) == 1


# --- the broker config and run.sh against a real Mosquitto -----------------------------
def _mqtt_connack(port: int, user: str, password: str) -> int | None:
    """MQTT 3.1.1 CONNECT with credentials; the CONNACK return code, None if no broker."""

    def field(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("!H", len(raw)) + raw

    body = field("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 30)
    body += field(f"compose-test-{user}") + field(user) + field(password)
    assert len(body) < 128
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(bytes([0x10, len(body)]) + body)
            reply = s.recv(4)
    except OSError:
        return None
    if len(reply) < 4 or reply[0] != 0x20:
        return None
    return reply[3]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


MOSQUITTO_BIN = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def test_run_script_is_valid_sh() -> None:
    result = subprocess.run(["sh", "-n", str(RUN_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(MOSQUITTO_BIN is None, reason="no local mosquitto binary")
def test_broker_config_runs_and_reloads_changed_auth_files(
    broker_conf: dict[str, list[str]], tmp_path: Path
) -> None:
    """deploy/mosquitto/mosquitto.conf (paths moved under tmp) starts the real broker through
    run.sh; a login added to the password file works once run.sh has sent SIGHUP; SIGTERM
    stops the broker cleanly (it writes its persistence file)."""
    assert MOSQUITTO_BIN is not None
    auth, data = tmp_path / "auth", tmp_path / "data"
    auth.mkdir()
    data.mkdir()
    port = _free_port()
    conf_text = MOSQUITTO_CONF.read_text()
    auth_dir = str(PurePosixPath(broker_conf["password_file"][0]).parent)
    conf_text = conf_text.replace(auth_dir + "/", f"{auth}/")
    conf_text = conf_text.replace(broker_conf["persistence_location"][0], f"{data}/")
    conf_text = re.sub(r"^listener .*$", f"listener {port} 127.0.0.1", conf_text, flags=re.M)
    if os.geteuid() == 0:
        conf_text += "user root\n"  # the temp files are root's; do not drop to `mosquitto`
    assert auth_dir not in conf_text
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(conf_text)

    _write_atomic(auth / "passwd", f"{INGEST_USER}:{hash_password('ingest-pw')}\n")
    _write_atomic(auth / "acl", render_acl([]))
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        ["sh", str(RUN_SH)],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MOSQUITTO_BIN": MOSQUITTO_BIN,
            "MOSQUITTO_CONF": str(conf),
            "WAYHOUSE_AUTH_DIR": str(auth),
            "WAYHOUSE_AUTH_POLL_SECONDS": "0.2",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait(
            lambda: _mqtt_connack(port, INGEST_USER, "ingest-pw") == 0 or proc.poll() is not None,
            30,
            "the broker",
        )
        assert proc.poll() is None, (tmp_path / "run.log").read_text()
        assert _mqtt_connack(port, "agent-7", "agent-pw") == 5  # not authorised (yet)
        assert _mqtt_connack(port, "nobody", "") == 5  # anonymous/unknown: refused

        _write_atomic(
            auth / "passwd",
            f"{INGEST_USER}:{hash_password('ingest-pw')}\nagent-7:{hash_password('agent-pw')}\n",
        )
        _wait(lambda: _mqtt_connack(port, "agent-7", "agent-pw") == 0, 30, "the reload")
        assert _mqtt_connack(port, INGEST_USER, "ingest-pw") == 0

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / "run.log").read_text()
        assert _mqtt_connack(port, INGEST_USER, "ingest-pw") is None, "the broker still runs"
        assert any(data.iterdir()), "no persistence file: the broker did not stop cleanly"
        assert "reloading mosquitto" in (tmp_path / "run.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_run_script_refuses_to_start_without_auth_files(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(RUN_SH)],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MOSQUITTO_BIN": "/bin/false",
            "WAYHOUSE_AUTH_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "devices sync" in result.stderr
