"""docker-compose.yml stays true to the fleet: every consumer runs, with real commands, after
its services are healthy. Reads files and runs `switchboard --help`; needs no services."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.no_services

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "docker/Dockerfile"
CONSUMERS = {"call-pairing", "billing", "bill-requests", "contacts", "orders", "sms", "email", "event-sessions", "plans"}
INFRASTRUCTURE = {"rabbitmq", "postgres"}


@pytest.fixture(scope="module")
def compose() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def built_from_dockerfile(services: dict[str, dict]) -> dict[str, dict]:
    return {
        name: service for name, service in services.items()
        if isinstance(service.get("build"), dict) and service["build"].get("dockerfile") == DOCKERFILE
    }


def consumer_services(services: dict[str, dict]) -> dict[str, str]:
    """Service name -> consumer it runs, for services whose command is `run <consumer>`."""
    return {
        name: service["command"][1]
        for name, service in built_from_dockerfile(services).items()
        if service.get("command", [None])[0] == "run"
    }


def test_every_consumer_has_its_own_service(compose):
    running = consumer_services(compose)
    assert sorted(running.values()) == sorted(CONSUMERS), "one service per consumer, each consumer once"
    for service, consumer in running.items():
        assert service == consumer, f"service {service} runs {consumer}: name it after its consumer"
        assert len(compose[service]["command"]) == 2, f"{service} must run exactly one consumer"


def test_compose_consumers_match_the_fleet(compose):
    fleet = pytest.importorskip("switchboard.fleet", reason="switchboard.fleet not importable yet")
    assert set(consumer_services(compose).values()) == set(fleet.CONSUMERS)
    assert set(fleet.CONSUMERS) == CONSUMERS, "update CONSUMERS here and docker-compose.yml together"


def test_services_run_real_switchboard_commands(compose):
    # The image's ENTRYPOINT is the `switchboard` script; here it is the one beside our python.
    switchboard = Path(sys.executable).with_name("switchboard")
    assert switchboard.exists(), f"{switchboard} missing: install the project (make test does)"
    commands = {service["command"][0] for service in built_from_dockerfile(compose).values()}
    assert commands, f"no service is built from {DOCKERFILE}"
    for command in sorted(commands):
        done = subprocess.run([switchboard, command, "--help"], check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"`switchboard {command} --help` exited {done.returncode}:\n{done.stderr}"


def test_setup_services_run_once_before_consumers(compose):
    assert compose["migrate"]["command"] == ["migrate"]
    assert compose["topology"]["command"] == ["topology"]
    for name in ("migrate", "topology"):
        assert compose[name].get("restart", "no") == "no", f"{name} is one-shot"


def test_infrastructure_has_healthchecks(compose):
    for name in INFRASTRUCTURE:
        test = compose[name].get("healthcheck", {}).get("test")
        assert test, f"{name} needs a healthcheck: consumers wait for it to be healthy"


def test_consumers_wait_for_healthy_services_and_setup(compose):
    for name in consumer_services(compose):
        service = compose[name]
        depends_on = service.get("depends_on", {})
        for dependency in INFRASTRUCTURE:
            assert depends_on.get(dependency, {}).get("condition") == "service_healthy", (name, dependency)
        for setup in ("migrate", "topology"):
            assert depends_on.get(setup, {}).get("condition") == "service_completed_successfully", (name, setup)
        assert service.get("restart") == "unless-stopped", name


def test_fleet_env_names_real_settings(compose):
    from switchboard.settings import Settings

    known = {f"SWITCHBOARD_{field}".upper() for field in Settings.model_fields}
    for name, service in built_from_dockerfile(compose).items():
        env = service.get("environment", {})
        assert {"SWITCHBOARD_AMQP_URL", "SWITCHBOARD_DATABASE_URL"} <= set(env), name
        assert "@rabbitmq:" in env["SWITCHBOARD_AMQP_URL"] and "@postgres:" in env["SWITCHBOARD_DATABASE_URL"], name
        assert set(env) <= known, f"{name}: unknown settings {set(env) - known}"


def test_env_example_documents_every_setting():
    from switchboard.settings import Settings

    documented = set(re.findall(r"^(SWITCHBOARD_\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    known = {f"SWITCHBOARD_{field}".upper() for field in Settings.model_fields}
    assert documented == known, f"missing: {known - documented}, unknown: {documented - known}"
