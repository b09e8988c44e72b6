# The test hosts' create and destroy steps of every molecule scenario (scripts/test-hosts.py),
# run with a fake `docker` that records each command and answers from a small state file: the
# options each platform gets, networks made once and removed only when molecule made them,
# hosts left by an interrupted run replaced, and bad platforms refused before anything runs.
# Every scenario's create and destroy run it against the real Docker engine.
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts/test-hosts.py"

# State: NETWORKS (name=owner per line) and CONTAINERS (a name per line) in $STATE.
FAKE_DOCKER = r"""#!/bin/bash
echo "$*" >>"$STATE/calls"
case "$1 $2" in
  "network inspect")
    name=${!#}
    line=$(grep "^$name=" "$STATE/networks" 2>/dev/null) || { echo "Error: no such network: $name" >&2; exit 1; }
    owner=${line#*=}
    [[ $3 == --format ]] && echo "{\"owner\":\"$owner\"}" | sed 's/"owner":""//'
    exit 0 ;;
  "network create") echo "${!#}=molecule" >>"$STATE/networks" ;;
  "network rm") sed -i "/^$3=/d" "$STATE/networks" ;;
  "rm --force")
    shift 2; rc=0
    for name in "$@"; do
      if grep -qx "$name" "$STATE/containers" 2>/dev/null; then sed -i "/^$name\$/d" "$STATE/containers"
      else echo "Error response from daemon: No such container: $name" >&2; rc=1; fi
    done
    exit $rc ;;
  "create --name") echo "$3" >>"$STATE/containers" ;;
esac
exit 0
"""

HOST = {
    "name": "bb-a", "image": "boosterbeacon/provisioned:trixie", "pre_build_image": True,
    "command": "/lib/systemd/systemd", "cgroupns_mode": "host", "capabilities": ["SYS_ADMIN"],
    "security_opts": ["seccomp=unconfined"], "volumes": ["bb-npm-cache:/root/.npm"],
    "tmpfs": ["/run", "/tmp:rw,exec,nosuid,nodev,mode=1777"], "etc_hosts": {"bb-pkg-cache": "172.17.0.2"},
    "groups": ["app"],
}


@pytest.fixture
def fake(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "docker").write_text(FAKE_DOCKER)
    (bindir / "docker").chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()

    def run(action, platforms, **extra_env):
        env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", STATE=str(state), **extra_env)
        env.setdefault("BB_HOST_CGROUP", "")
        result = subprocess.run([sys.executable, str(SCRIPT), action], input=json.dumps(platforms),
                                env=env, capture_output=True, text=True, timeout=60, check=False)
        calls = (state / "calls").read_text().splitlines() if (state / "calls").exists() else []
        (state / "calls").unlink(missing_ok=True)
        return result, calls

    return run, state


def test_create_gives_each_host_the_options_of_its_platform(fake):
    run, state = fake
    result, calls = run("create", [HOST, dict(HOST, name="bb-b", published_ports=["127.0.0.1:18443:443"])])
    assert result.returncode == 0, result.stderr
    created = [c for c in calls if c.startswith("create ")]
    assert created[0] == (
        "create --name bb-a --hostname bb-a --label owner=molecule --log-driver json-file --cgroupns host "
        "--cap-add=SYS_ADMIN --security-opt=seccomp=unconfined --volume=bb-npm-cache:/root/.npm "
        "--tmpfs=/run --tmpfs=/tmp:rw,exec,nosuid,nodev,mode=1777 --add-host=bb-pkg-cache:172.17.0.2 "
        "boosterbeacon/provisioned:trixie /lib/systemd/systemd")
    assert "--publish=127.0.0.1:18443:443" in created[1]
    # Both started in one command, after both were made.
    assert calls[-1] == "start bb-a bb-b"
    assert (state / "containers").read_text().split() == ["bb-a", "bb-b"]


def test_under_make_molecule_each_host_goes_into_the_scenarios_cgroup(fake):
    run, _state = fake
    result, calls = run("create", [HOST, dict(HOST, name="bb-b")], BB_HOST_CGROUP="/bb-test-hosts/deploy")
    assert result.returncode == 0, result.stderr
    created = [c.split() for c in calls if c.startswith("create ")]
    assert len(created) == 2
    for args in created:
        assert args[args.index("--cgroup-parent") + 1] == "/bb-test-hosts/deploy"


def test_networks_are_made_once_and_joined_in_order_with_fixed_addresses(fake):
    run, state = fake
    nets = [{"name": "bridge"}, {"name": "bb-mh", "ipv4_address": "172.31.250.2"}]
    hosts = [dict(HOST, docker_networks=[{"name": "bb-mh", "ipam_config": [{"subnet": "172.31.250.0/24"}]}],
                  networks=nets),
             dict(HOST, name="bb-b", networks=[nets[0], {"name": "bb-mh", "ipv4_address": "172.31.250.3"}])]
    result, calls = run("create", hosts)
    assert result.returncode == 0, result.stderr
    assert [c for c in calls if c.startswith("network create")] == [
        "network create --label owner=molecule --subnet=172.31.250.0/24 bb-mh"]
    # The first network at creation (the default route), the others joined before the start.
    assert "--network bridge boosterbeacon" in [c for c in calls if c.startswith("create --name bb-a")][0]
    assert "network connect --ip 172.31.250.3 bb-mh bb-b" in calls
    assert calls.index("network connect --ip 172.31.250.3 bb-mh bb-b") < calls.index("start bb-a bb-b")
    # A second create finds the network there and replaces the hosts a killed run left.
    result, calls = run("create", hosts)
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c.startswith("network create")]
    assert calls[0:1] == ["network inspect bb-mh"] and "rm --force bb-a bb-b" in calls
    assert (state / "containers").read_text().split() == ["bb-a", "bb-b"]


def test_destroy_removes_the_hosts_and_only_the_networks_molecule_made(fake):
    run, state = fake
    hosts = [dict(HOST, networks=[{"name": "bridge"}, {"name": "bb-own"}, {"name": "bb-hand"}])]
    (state / "networks").write_text("bb-hand=\n")  # made by hand, without molecule's label
    assert run("create", hosts)[0].returncode == 0
    result, calls = run("destroy", hosts)
    assert result.returncode == 0, result.stderr
    assert (state / "containers").read_text().split() == []
    assert "network rm bb-own" in calls and "network rm bb-hand" not in calls
    assert (state / "networks").read_text().split() == ["bb-hand="]
    # Nothing left to remove is not an error (the destroy that opens every scenario).
    result, calls = run("destroy", hosts)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("platform, says", [
    (dict(HOST, privileged=True), "platform bb-a: privileged not supported by scripts/test-hosts.py"),
    (dict(HOST, pre_build_image=False), "platform bb-a: pre_build_image must be true"),
    ({k: v for k, v in HOST.items() if k != "image"}, "platform bb-a: name and image are required"),
])
def test_a_platform_it_cannot_honour_is_refused_before_docker_runs(fake, platform, says):
    run = fake[0]
    result, calls = run("create", [HOST, platform])
    assert result.returncode == 1
    assert says in result.stderr
    assert calls == []
