"""Every production container as docker inspect sees it (scripts/test-prod, test-swarm).

python hardening.py DIR SECRETS_DIR: DIR holds inspect.json (`docker inspect` of the
containers), top-<id>.txt (`docker top <id> -eo pid,uid,args`) and history-<image id>.txt (`docker
history --no-trunc` of each image). Prints one line per container; exits non-zero with
every broken rule listed. Standard library only.
"""

import json
import re
import sys
from pathlib import Path

# The one image whose entrypoint starts as root (docker-compose.prod.yml says why), with
# the only capabilities it gets; its processes still all run unprivileged.
ROOT_ENTRYPOINT = {"postgres": {"CHOWN", "DAC_READ_SEARCH", "FOWNER", "SETGID", "SETUID"}}
# Prometheus' exporters: their images hold no HTTP client to check themselves with, and
# Prometheus' scrape is their check (alert TargetDown, docs/operations.md).
NO_HEALTHCHECK = {"nginx-exporter", "postgres-exporter", "redis-exporter"}
GRACEFUL_TIMEOUT = 20  # gunicorn's (flotilla.gunicorn_conf): Docker must wait longer
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|PRIVATE_KEY|SMTP_URL", re.IGNORECASE)
MIN_SECRET_LENGTH = 12  # shorter pieces (a PEM's "-----") would match innocent text


def uid_and_args(line: str) -> tuple[str, str]:
    """Split a `docker top -eo pid,uid,args` line into its uid and command line."""
    _, uid, *args = line.split(None, 2)
    return uid, (args[0].strip() if args else "")


def secret_values(folder: Path) -> set[str]:
    """Every line of every secret file that could only come from there."""
    values = set()
    for path in folder.iterdir():
        for line in path.read_text().splitlines():
            if len(line.strip()) >= MIN_SECRET_LENGTH and not line.startswith("-----"):
                values.add(line.strip())
    return values


def name_of(container: dict) -> str:
    """The Compose service, or the Swarm service, the container belongs to."""
    labels = container["Config"]["Labels"] or {}
    return labels.get("com.docker.compose.service") or labels["com.docker.swarm.service.name"]


def problems_of(container: dict, folder: Path, secrets: set[str], swarm: bool) -> list[str]:
    """Every hardening rule this container breaks."""
    config, host = container["Config"], container["HostConfig"]
    service = name_of(container).split("_", 1)[-1]
    found = []

    def rule(ok: bool, what: str) -> None:
        if not ok:
            found.append(what)

    top = (folder / f"top-{container['Id']}.txt").read_text().splitlines()[1:]
    # Docker's processes, not the container's: a healthcheck, run as the container's user
    # (root for the one root entrypoint), and runc starting any exec (`runc init`, root
    # until it becomes the command; seen when the machine is busy).
    dockers = {" ".join(((config.get("Healthcheck") or {}).get("Test") or [""])[1:]), "runc init"}
    uids = [uid for uid, args in map(uid_and_args, top) if args not in dockers]
    rule(bool(uids) and "0" not in uids, f"a process runs as root (uids {uids})")
    if service not in ROOT_ENTRYPOINT:
        rule(config["User"] not in {"", "root", "0"}, "no unprivileged user")
    rule(host["ReadonlyRootfs"], "root filesystem writable")
    rule("ALL" in (host["CapDrop"] or []), f"CapDrop is {host['CapDrop']}, not ALL")
    added = {cap.removeprefix("CAP_") for cap in host["CapAdd"] or []}
    rule(added <= ROOT_ENTRYPOINT.get(service, set()), f"capabilities added: {added}")
    if not swarm:  # Swarm (engine 20.10) cannot set it: docs/production.md, "Swarm"
        options = host["SecurityOpt"] or []
        rule(any(o.startswith("no-new-privileges") for o in options), "new privileges allowed")
    rule(host["Memory"] > 0, "no memory limit")
    rule(host["NanoCpus"] > 0, "no CPU limit")
    rule((host["PidsLimit"] or 0) > 0 or swarm, "no PID limit")
    log = host["LogConfig"]
    rule(log["Type"] == "json-file", f"log driver {log['Type']}")
    rule({"max-size", "max-file"} <= set(log["Config"]), f"logs not rotated: {log['Config']}")
    test = (config.get("Healthcheck") or {}).get("Test") or ["NONE"]
    health = (container["State"].get("Health") or {}).get("Status")
    if service not in NO_HEALTHCHECK:
        rule(test[0] != "NONE", "no healthcheck")
        rule(health == "healthy", f"health is {health}")
    # Swarm keeps the grace period in the service (scripts/test-swarm checks it there).
    grace = config.get("StopTimeout") or 10
    rule(grace > GRACEFUL_TIMEOUT or swarm, "stop grace period too short")
    for variable in config["Env"] or []:
        key, _, value = variable.partition("=")
        leaked = SECRET_NAME.search(key) and not key.endswith("_FILE") and value
        rule(not leaked, f"secret in the environment: {key}")
        rule(not any(s in value for s in secrets), f"a secret's value in {key}")
    history = (folder / f"history-{container['Image'].removeprefix('sha256:')}.txt").read_text()
    rule(not any(s in history for s in secrets), "a secret's value in the image's history")
    for binding_list in (host.get("PortBindings") or {}).values():
        for binding in binding_list or []:
            rule(binding["HostIp"] == "127.0.0.1" or swarm, f"published on {binding['HostIp']}")
    return found


def main(folder: Path, secrets_dir: Path, swarm: bool) -> int:
    """Check every container; 0 when all of them keep every rule."""
    containers = json.loads((folder / "inspect.json").read_text())
    secrets = secret_values(secrets_dir)
    assert secrets, f"no secrets found in {secrets_dir}: the checks below would prove nothing"
    failed = 0
    for container in sorted(containers, key=name_of):
        problems = problems_of(container, folder, secrets, swarm)
        failed += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} {container['Name'].lstrip('/')}", *problems)
    print(f"hardening: {len(containers) - failed} of {len(containers)} containers keep every rule")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:] == ["swarm"]))
