"""Create or remove a molecule scenario's test hosts with the Docker CLI.

molecule's own Docker playbooks take about a minute per scenario on a loaded machine (a dozen
tasks, each container made and removed by a background job polled every five seconds); these
are a few `docker` commands. The platforms come as molecule.yml gives them (JSON on stdin), with
the same meaning as in molecule's Docker driver for the keys the scenarios use; any other key
stops the run, so a setting is never silently dropped.

    python3 scripts/test-hosts.py create|destroy < platforms.json
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

# The keys a platform may have (`groups` is molecule's inventory, not Docker's).
KNOWN = {"name", "hostname", "image", "pre_build_image", "command", "cgroupns_mode", "capabilities",
         "security_opts", "volumes", "tmpfs", "etc_hosts", "networks", "docker_networks",
         "published_ports", "env", "groups"}
BUILTIN_NETWORKS = {"bridge", "host", "none"}
LABEL = "owner=molecule"


class Error(Exception):
    pass


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and done.returncode:
        raise Error(f"docker {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def check(platforms: list[dict]) -> None:
    """Every platform has a name and a pre-built image and only keys this script knows."""
    for platform in platforms:
        name = platform.get("name", "?")
        unknown = sorted(set(platform) - KNOWN)
        if unknown:
            raise Error(f"platform {name}: {', '.join(unknown)} not supported by scripts/test-hosts.py "
                        "(add it there, with molecule's meaning)")
        if not platform.get("name") or not platform.get("image"):
            raise Error(f"platform {name}: name and image are required")
        if not platform.get("pre_build_image", False):
            raise Error(f"platform {name}: pre_build_image must be true (the test images come from "
                        "scripts/build-images.sh)")


def networks(platforms: list[dict]) -> list[dict]:
    """The networks the platforms declare or join, each once, the built-in ones left out."""
    found: dict[str, dict] = {}
    for platform in platforms:
        for net in platform.get("docker_networks", []):
            found.setdefault(net["name"], net)
        for net in platform.get("networks", []):
            found.setdefault(net["name"], {"name": net["name"]})
    return [net for name, net in found.items() if name not in BUILTIN_NETWORKS]


def create_args(platform: dict) -> list[str]:
    """`docker create` for one platform, on the first network it names."""
    args = ["create", "--name", platform["name"], "--hostname", platform.get("hostname", platform["name"]),
            "--label", LABEL, "--log-driver", "json-file"]
    # The scenario's own cgroup when `make molecule` counts its hosts' CPU (scripts/molecule-all.sh).
    if os.environ.get("BB_HOST_CGROUP"):
        args += ["--cgroup-parent", os.environ["BB_HOST_CGROUP"]]
    if "cgroupns_mode" in platform:
        args += ["--cgroupns", platform["cgroupns_mode"]]
    args += [f"--cap-add={cap}" for cap in platform.get("capabilities", [])]
    args += [f"--security-opt={opt}" for opt in platform.get("security_opts", [])]
    args += [f"--volume={vol}" for vol in platform.get("volumes", [])]
    args += [f"--tmpfs={mount}" for mount in platform.get("tmpfs", [])]
    args += [f"--add-host={host}:{addr}" for host, addr in platform.get("etc_hosts", {}).items()]
    args += [f"--publish={port}" for port in platform.get("published_ports", [])]
    args += [f"--env={key}={value}" for key, value in platform.get("env", {}).items()]
    first = platform.get("networks", [])[:1]
    if first:
        args += ["--network", first[0]["name"]]
        if "ipv4_address" in first[0]:
            args += ["--ip", first[0]["ipv4_address"]]
    args.append(platform["image"])
    # As the Docker driver's "compatibility" handling: a string is split as a shell would.
    command = platform.get("command")
    if command:
        args += shlex.split(command) if isinstance(command, str) else list(command)
    return args


def create(platforms: list[dict]) -> None:
    for net in networks(platforms):
        if docker("network", "inspect", net["name"], check=False).returncode:
            args = ["network", "create", "--label", LABEL]
            args += [f"--subnet={ipam['subnet']}" for ipam in net.get("ipam_config", []) if "subnet" in ipam]
            docker(*args, net["name"])
    # A host left by an interrupted run is replaced, as molecule's destroy would have.
    docker("rm", "--force", *[p["name"] for p in platforms], check=False)
    for platform in platforms:
        docker(*create_args(platform))
        # The other networks are joined before the start, as the Docker driver does.
        for net in platform.get("networks", [])[1:]:
            ip = ["--ip", net["ipv4_address"]] if "ipv4_address" in net else []
            docker("network", "connect", *ip, net["name"], platform["name"])
    docker("start", *[p["name"] for p in platforms])


def destroy(platforms: list[dict]) -> None:
    names = [p["name"] for p in platforms]
    done = docker("rm", "--force", *names, check=False)
    # Removing one that is not there is fine; anything else is not.
    errors = [line for line in done.stderr.splitlines() if line.strip() and "No such container" not in line]
    if done.returncode and errors:
        raise Error("docker rm: " + "; ".join(errors))
    for net in networks(platforms):
        labels = docker("network", "inspect", "--format", "{{json .Labels}}", net["name"], check=False)
        # Only the networks molecule made (as its Docker driver): never one made by hand.
        if labels.returncode == 0 and (json.loads(labels.stdout or "null") or {}).get("owner") == "molecule":
            docker("network", "rm", net["name"])


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("create", "destroy"):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        platforms = json.load(sys.stdin)
        check(platforms)
        (create if argv[1] == "create" else destroy)(platforms)
    except Error as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
