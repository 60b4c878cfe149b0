"""The README's HTTP gateway section, run as written (with real curl): an application posts
events, then the session, a bill and a search are read over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support.processes import ROOT
from tests.support.waiting import wait_until

README_PORT = "http://127.0.0.1:8080"
SESSION = "8a1c0f0e-5a53-4d6c-9f0a-3e1b2c4d5e6f"


def gateway_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## HTTP gateway\n", 1)[1].split("\n## ", 1)[0]


def commands(section: str) -> list[tuple[str, str]]:
    """(command, what follows its `#`) for each curl in the section's shell blocks; a command
    runs on until the next line that starts with curl or #."""
    found: list[tuple[str, str]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            if line.startswith("curl"):
                command, _, comment = line.partition("   # ")
                found.append((command, comment.strip()))
            elif line.startswith("#"):
                found[-1] = (found[-1][0], line.lstrip("# ").strip())
            else:
                found[-1] = (found[-1][0] + "\n" + line, found[-1][1])
    return found


def run(command: str) -> dict | list:
    return json.loads(output(command))


def output(command: str) -> str:
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def switchboard(env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "switchboard", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.timeout(240)
def test_the_readme_gateway_walk_posts_events_with_curl_and_reads_the_session_a_bill_and_a_search(
        fleet, made, serve, service_env):
    name = made.name("shop-web")
    password = json.loads(switchboard(service_env, "apps", "add", name, "--json").stdout)["password"]
    for consumer in ("event-sessions", "call-pairing", "billing", "plans"):
        fleet(consumer)
    base = serve()
    switchboard(service_env, "publish", "calls", str(ROOT / "examples" / "calls.jsonl"))
    for document in ("provider.xml", "provider-later.xml"):
        switchboard(service_env, "poll-provider", "--once", "--url", (ROOT / "examples" / document).as_uri())

    walk = [(command.replace(README_PORT, base).replace("shop-web:PASSWORD", f"{name}:{password}"), comment)
            for command, comment in commands(gateway_section())]
    post, reads = walk[0], {_path(command): command for command, _ in walk[1:]}
    assert "-u " in post[0] and post[1].startswith("202 ")
    assert run(post[0]) == json.loads(post[1].removeprefix("202 ")), "the README shows the answer it gets"

    session = reads[f"/sessions/{SESSION}"]
    wait_until(lambda: "events" in run(session), timeout=30, message=lambda: f"no session yet: {run(session)}")
    assert run(session)["applications"] == [name]
    bill = reads["/bills/99988526423"]
    wait_until(lambda: run(bill).get("total") == "90.81", timeout=60,
               message=lambda: f"the README's bill is R$ 90,81, the gateway answered {run(bill)}")
    search = reads["/search"]
    wait_until(lambda: "Camela en concierto" in [plan["title"] for plan in run(search)["data"]["events"]],
               timeout=30, message=lambda: f"the README's search answered {run(search)}")
    assert run(reads["/events"]) and run(reads["/readyz"])["ready"] is True
    assert run(reads["/healthz"]) == {"status": "ok"}
    assert "switchboard_gateway_request_seconds_count{" in output(reads["/metrics"])


def _path(command: str) -> str:
    url = re.search(r"http://[^/\s']+(/[^?'\s]*)", command)
    return url.group(1)

