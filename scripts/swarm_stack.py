"""`docker compose config --format json` of the Swarm files → a file `docker stack deploy` takes.

python swarm_stack.py STACK [HELD,...] < compose.json > stack.json (scripts/swarm runs it in
a container). Compose renders the merged files (anchors, !reset, !override, variables);
the stack loader of Docker 20.10 reads the older version-3 format, so this drops what Swarm
ignores (printing each), turns tmpfs into tmpfs mounts, sizes into strings, and names every
config and secret after its content, so a changed file rolls out as a new one (Swarm never
changes an existing one). HELD services are deployed with 0 replicas (scaled up later).
"""

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

# Keys Swarm does not apply (engine 20.10), and why that is acceptable.
IGNORED = {
    "build": "images are built and tagged by scripts/swarm",
    "depends_on": "every service waits for what it needs by itself",
    "restart": "deploy.restart_policy restarts tasks",
    "security_opt": "no-new-privileges: set it engine-wide (docs/production.md, Swarm)",
    "shm_size": "PostgreSQL gets the default /dev/shm",
}
PORT_KEYS = {"target", "published", "protocol", "mode"}


def note(message: str) -> None:
    """Tell the operator what the stack leaves out."""
    print(f"swarm_stack: {message}", file=sys.stderr)


def content_name(namespace: str, key: str, entry: dict) -> dict:
    """A config or secret named after its stack and its file's content (immutable in Swarm)."""
    digest = hashlib.sha256(Path(entry["file"]).read_bytes()).hexdigest()[:10]
    return {"file": entry["file"], "name": f"{namespace}_{key}-{digest}"}


def resources(limits: dict) -> dict:
    """Limits in version 3's types; no PID limit (set per engine: docs/production.md, Swarm)."""
    converted = {}
    if "cpus" in limits:
        converted["cpus"] = str(limits["cpus"])
    if "memory" in limits:
        converted["memory"] = str(limits["memory"])
    return converted


def service(name: str, spec: dict, held: set[str]) -> dict:
    """One service in the form the stack loader takes."""
    for key in IGNORED.keys() & spec.keys():
        spec.pop(key)
    spec = {key: value for key, value in spec.items() if value is not None}
    mounts = spec.get("volumes", [])
    for mount in mounts:
        mount.get("bind", {}).pop("create_host_path", None)
        mount.get("volume", {}).pop("subpath", None)
    mounts += [{"type": "tmpfs", "target": path} for path in spec.pop("tmpfs", [])]
    if mounts:
        spec["volumes"] = [{k: v for k, v in m.items() if v != {}} for m in mounts]
    deploy = spec.setdefault("deploy", {})
    deploy.pop("placement", None) if not deploy.get("placement") else None
    limits = deploy.get("resources", {}).get("limits")
    if limits:
        deploy["resources"]["limits"] = resources(limits)
    if name in held:
        deploy["replicas"] = 0
    for reference in spec.get("configs", []) + spec.get("secrets", []):
        if "mode" in reference:
            reference["mode"] = int(str(reference["mode"]), 8)
    ports = []
    for port in spec.pop("ports", []):
        if port.get("host_ip") not in {None, "", "0.0.0.0"}:
            # Swarm publishes on every address of every node, never on one address.
            note(f"{name}: port {port['published']} not published (bound to {port['host_ip']})")
            continue
        # DNS round robin services publish on their node (no routing mesh without a VIP).
        mode = "host" if spec["deploy"].get("endpoint_mode") == "dnsrr" else port.get("mode")
        ports.append({**{k: v for k, v in port.items() if k in PORT_KEYS}, "mode": mode})
    if ports:
        spec["ports"] = ports
    return spec


def stack(compose: dict, namespace: str, held: set[str]) -> dict[str, Any]:
    """The whole file."""
    result: dict[str, Any] = {"version": "3.9"}
    result["services"] = {
        name: service(name, spec, held) for name, spec in compose["services"].items()
    }
    for section in ("networks", "volumes"):
        result[section] = {
            key: {k: v for k, v in (entry or {}).items() if k not in {"name", "ipam"}}
            for key, entry in compose.get(section, {}).items()
        }
    for section in ("configs", "secrets"):
        result[section] = {
            key: content_name(namespace, key, entry)
            for key, entry in compose.get(section, {}).items()
        }
    for key in IGNORED:
        note(f"ignored everywhere: {key} ({IGNORED[key]})")
    return result


if __name__ == "__main__":
    held = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else set()
    json.dump(stack(json.load(sys.stdin), sys.argv[1], held), sys.stdout, indent=1)
