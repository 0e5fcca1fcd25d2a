"""`make fuzz`: run schemathesis against the merged OpenAPI document through NGINX, as an
admin and as a customer at the same time; non-zero when either run finds a failure."""

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

BASE_URL = os.environ.get("BASE_URL", "http://nginx")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "25")
SEED = os.environ.get("FUZZ_SEED", "20261122")
EXCLUDED = os.environ.get("FUZZ_EXCLUDE_CHECKS", "")


def post(path: str, body: dict) -> dict:
    """POST JSON through NGINX and return the JSON answer."""
    request = urllib.request.Request(
        BASE_URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def access_token(email: str, password: str) -> str:
    """Log in and return the access token."""
    return post("/api/auth/login", {"email": email, "password": password})["access_token"]


def customer_token() -> str:
    """Register a new customer and return its access token."""
    account = {
        "email": f"fuzz-{uuid.uuid4().hex[:12]}@example.com",
        "password": "fuzzing is fun 123",
        "name": "Fuzz",
    }
    post("/api/auth/register", account)
    return access_token(account["email"], account["password"])


def schemathesis(role: str, token: str) -> tuple[str, subprocess.Popen, float]:
    """Start every phase and check as one caller; its output is kept until it ends."""
    command = [
        "st",
        "--config-file",
        "/fuzz/schemathesis.toml",
        "run",
        f"{BASE_URL}/api/openapi.json",
        "--url",
        BASE_URL,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--no-color",
    ]
    if EXCLUDED:
        command += ["--exclude-checks", EXCLUDED]
    print(f"==> schemathesis as {role}: {' '.join(command[:6])} ...", flush=True)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "hooks"}
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return role, run, time.monotonic()


def finish(role: str, run: subprocess.Popen, started: float) -> int:
    """Wait for one caller's run; print its output whole, then its exit status."""
    output, _ = run.communicate()
    print(f"\n==> schemathesis as {role}:\n{output.decode(errors='replace')}", flush=True)
    print(f"==> {role}: exit {run.returncode} in {time.monotonic() - started:.0f}s", flush=True)
    return run.returncode


def main() -> int:
    admin = access_token(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])
    runs = [schemathesis("admin", admin), schemathesis("customer", customer_token())]
    return max(finish(*run) for run in runs)


if __name__ == "__main__":
    sys.exit(main())
