"""`make bench`: load every hot path direct to its service and through NGINX + gateway.

Runs in the bench container (scripts/bench starts it on the stack's edge network, with the
Docker socket). Every load generator is a wrk container in the network namespace of the
container it measures, aimed at 127.0.0.1, so neither column pays for a published port or
for Docker's proxy. Writes the table as JSON and PNG under /results.
"""

import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import docker
import requests
import urllib3

# Production NGINX answers plain HTTP with a redirect (only /nginx-health stays plain): the
# edge is measured over TLS, as clients reach it. The certificate is the run's self-signed one.
BASE_URL = os.environ.get("BASE_URL", "https://nginx")
PROJECT = os.environ["COMPOSE_PROJECT_NAME"]
ADMIN_EMAIL = os.environ.get("ADMIN_EMAIL", "admin@flotilla.local")
ADMIN_PASSWORD = os.environ["ADMIN_PASSWORD"]
RESULTS = Path(os.environ.get("RESULTS_DIR", "/results"))
SMOKE = os.environ.get("BENCH_SMOKE", "") not in {"", "0"}
# Every row: wrk -t2 -c16 -d8s. Smoke: only proves every part works.


def setting(name: str, default: int, smoke: int) -> int:
    """Return an integer setting from the environment (empty: the default)."""
    return int(os.environ.get(name) or (smoke if SMOKE else default))


THREADS = setting("BENCH_THREADS", 2, smoke=1)
CONNECTIONS = setting("BENCH_CONNECTIONS", 16, smoke=2)
SECONDS = setting("BENCH_SECONDS", 8, smoke=1)
WARMUP_SECONDS = setting("BENCH_WARMUP_SECONDS", 2, smoke=0)
# Each row measured this many times, direct and edge in turn; the table shows the run of
# median req/s (one run's req/s moves ±15 % on a shared 2-core machine).
REPEAT = setting("BENCH_REPEAT", 1, smoke=1)
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
SPREAD_PRODUCTS = 50
PASSWORD = "bench-password-123"
TIMEOUT = 30
# Where each service listens inside its own container.
PORTS = {"nginx": 80, "api-gateway": 8000}
SERVICE_PORT = 8000


@dataclass
class Case:
    """One path of the table, measured direct to `service` and through the edge."""

    name: str
    label: str
    service: str | None  # None: the edge only
    path: str
    token: str = ""  # "reader" or "buyer": whose bearer token goes along
    products: str = ""  # "hot" or "spread": POST orders over those products


CASES = [
    Case("product", "GET /api/products/{id} (Redis hit)", "product-service", "/api/products/{hot}"),
    Case("users_me", "GET /api/users/me (token)", "user-service", "/api/users/me", "reader"),
    Case("orders_list", "GET /api/orders (token)", "order-service", "/api/orders", "reader"),
    Case("products_list", "GET /api/products?limit=20", "product-service",
         "/api/products?limit=20"),
    Case("order_hot", "POST /api/orders, one hot product", "order-service", "/api/orders", "buyer",
         "hot"),
    Case("order_spread", f"POST /api/orders over {SPREAD_PRODUCTS} products", "order-service",
         "/api/orders", "buyer", "spread"),
]  # fmt: skip


@dataclass
class Run:
    """One wrk run: what it measured and what every container spent meanwhile."""

    case: str
    mode: str  # direct, edge, nginx
    url: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    errors: dict = field(default_factory=dict)
    cpu: dict = field(default_factory=dict)  # container -> cores used on average
    memory_mib: dict = field(default_factory=dict)
    wrk_cpu: float = 0.0  # cores used by wrk itself
    # Cores dockerd, containerd and the shims used beyond their idle rate (healthchecks):
    # carrying log lines, and starting and removing the wrk container.
    docker_cpu: float = 0.0
    rps_runs: list = field(default_factory=list)  # req/s of every repeat (BENCH_REPEAT)


def loadavg() -> list[float]:
    """Return the machine's load averages (1, 5, 15 min): how busy the host was."""
    return [float(part) for part in Path("/proc/loadavg").read_text().split()[:3]]


class Api:
    """The public API through NGINX, for seeding."""

    def __init__(self) -> None:
        self.session = requests.Session()
        # The run's own self-signed certificate; no CA bundle from the environment either
        # (REQUESTS_CA_BUNDLE would override verify=False).
        self.session.verify = False
        self.session.trust_env = False
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def call(self, method: str, path: str, token: str = "", **kwargs: object) -> dict:
        """Send a request; return its JSON; fail loudly on an error status."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.request(
            method, BASE_URL + path, headers=headers, timeout=TIMEOUT, **kwargs
        )
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def login(self, email: str, password: str) -> str:
        """Return an access token."""
        return self.call("POST", "/api/auth/login", json={"email": email, "password": password})[
            "access_token"
        ]

    def customer(self, name: str) -> str:
        """Register a customer; return its access token."""
        email = f"{name}-{int(time.time())}@bench.example"
        self.call(
            "POST", "/api/auth/register", json={"email": email, "password": PASSWORD, "name": name}
        )
        return self.login(email, PASSWORD)


def wait_ready(api: Api) -> None:
    """Wait until /health reports every service ready."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if api.session.get(BASE_URL + "/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit("the stack never became healthy")


def seed(api: Api) -> dict:
    """Create the products and customers the cases need; return ids and tokens."""
    admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    run = f"{time.time():.0f}"  # a stack kept up (BENCH_KEEP) may be seeded again

    def product(sku: str) -> int:
        body = {"sku": sku, "name": f"Bench {sku}", "price_cents": 1999, "stock": 10**9}
        return api.call("POST", "/api/products", admin, json=body)["id"]

    hot = product(f"bench-{run}-hot")
    spread = [product(f"bench-{run}-{index:02d}") for index in range(SPREAD_PRODUCTS)]
    reader, buyer = api.customer("reader"), api.customer("buyer")
    # The reader's order list is a page of real orders.
    for product_id in spread[:5]:
        items = [{"product_id": product_id, "quantity": 1}]
        api.call("POST", "/api/orders", reader, json={"items": items})
    api.call("GET", f"/api/products/{hot}")  # now cached in Redis
    return {"hot": hot, "spread": spread, "reader": reader, "buyer": buyer}


class Stack:
    """The project's containers, by Compose service name, and their resource use."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        label = f"com.docker.compose.project={PROJECT}"
        self.containers = {
            c.labels["com.docker.compose.service"]: c
            for c in client.containers.list(filters={"label": label})
            if c.labels.get("com.docker.compose.service") != "bench"
        }
        self.image = client.containers.get(socket.gethostname()).image
        self.engine_idle = 0.0  # the Docker engine's cores with no load (idle_engine)

    def usage(self) -> dict[str, tuple[int, int]]:
        """Return (CPU nanoseconds used so far, memory bytes) of every container."""
        found: dict[str, tuple[int, int]] = {}

        def sample(name: str, container: docker.models.containers.Container) -> None:
            stats = container.stats(stream=False, one_shot=True)
            memory = stats.get("memory_stats", {})
            # As `docker stats` counts it: without the page cache that can be dropped.
            cache = memory.get("stats", {}).get("inactive_file", 0)
            found[name] = (
                stats["cpu_stats"]["cpu_usage"]["total_usage"],
                memory.get("usage", 0) - cache,
            )

        threads = [threading.Thread(target=sample, args=item) for item in self.containers.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return found


DOCKER_PROCESSES = ("dockerd", "containerd")


def docker_cpu_seconds() -> float:
    """Return the CPU time the Docker engine has used: dockerd, containerd and every
    containerd-shim, which carry each container's output to its log (the bench container
    shares the host's process namespace)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        if name in DOCKER_PROCESSES or name.startswith("containerd-shim"):
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_engine(seconds: float = 10.0) -> float:
    """Return the cores the Docker engine uses with no load: the stack's healthchecks, mostly."""
    before, started = docker_cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (docker_cpu_seconds() - before) / (time.monotonic() - started)


def wrk(stack: Stack, target: str, url: str, env: dict[str, str], seconds: int) -> dict:
    """Run wrk in target's network namespace; return its BENCH summary and its CPU use."""
    command = (
        f"wrk --latency --timeout 10s -t{THREADS} -c{CONNECTIONS} -d{seconds}s "
        f"-s /bench/bench.lua '{url}' && echo CHILD_TICKS $(cut -d' ' -f16,17 /proc/$$/stat)"
    )
    output = stack.client.containers.run(
        stack.image,
        ["sh", "-c", command],
        environment=env,
        network_mode=f"container:{stack.containers[target].id}",
        remove=True,
        stdout=True,
        stderr=True,
    ).decode()
    match = re.search(r"^BENCH (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk printed no summary against {url}:\n{output}")
    summary = json.loads(match[1])
    # The shell's children's user + system time, in clock ticks (100 per second on Linux).
    ticks = re.search(r"^CHILD_TICKS (\d+) (\d+)$", output, re.MULTILINE)
    summary["cpu_seconds"] = (int(ticks[1]) + int(ticks[2])) / 100 if ticks else 0.0
    return summary


def measure(stack: Stack, case: str, mode: str, target: str, path: str, env: dict) -> Run:
    """Warm up, then load path in target's namespace and record what it cost everyone."""
    if target == "nginx" and mode != "nginx":
        url = f"https://127.0.0.1:443{path}"
    else:
        url = f"http://127.0.0.1:{PORTS.get(target, SERVICE_PORT)}{path}"
    if WARMUP_SECONDS:
        wrk(stack, target, url, env, WARMUP_SECONDS)
    before, started = stack.usage(), time.monotonic()
    engine_before, engine_started = docker_cpu_seconds(), time.monotonic()
    summary = wrk(stack, target, url, env, SECONDS)
    engine = (docker_cpu_seconds() - engine_before) / (time.monotonic() - engine_started)
    after, wall = stack.usage(), time.monotonic() - started
    seconds = summary["duration_us"] / 1e6
    latency = summary["latency_us"]
    run = Run(
        case=case,
        mode=mode,
        url=url,
        requests=summary["requests"],
        seconds=round(seconds, 2),
        rps=round(summary["requests"] / seconds, 1),
        p50_ms=round(latency["p50"] / 1000, 2),
        p90_ms=round(latency["p90"] / 1000, 2),
        p99_ms=round(latency["p99"] / 1000, 2),
        errors={name: count for name, count in summary["errors"].items() if count},
        cpu={
            name: round((after[name][0] - before[name][0]) / 1e9 / wall, 2)
            for name in after
            if name in before
        },
        memory_mib={name: round(after[name][1] / 2**20, 1) for name in after},
        wrk_cpu=round(summary["cpu_seconds"] / wall, 2),
        docker_cpu=round(engine - stack.engine_idle, 3),
    )
    print(f"  {case:14} {mode:6} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.1f} ms  "
          f"p99 {run.p99_ms:7.1f} ms  {run.errors or ''}", flush=True)  # fmt: skip
    return run


def median(runs: list[Run]) -> Run:
    """Return the run of median req/s, carrying every run's req/s."""
    chosen = sorted(runs, key=lambda run: run.rps)[len(runs) // 2]
    chosen.rps_runs = [run.rps for run in runs]
    return chosen


HOT_ROW_SQL = """\\set r random(1, 9000000000000000)
BEGIN;
INSERT INTO reservations (id, status) VALUES ('pgbench-' || :client_id || '-' || :r, 'committed');
SELECT id, name, price_cents, stock FROM products WHERE id = ANY(ARRAY[:product]::bigint[]) ORDER BY id FOR UPDATE;
UPDATE products AS p SET stock = p.stock - 1, updated_at = now() WHERE p.id = :product;
INSERT INTO reservation_items (reservation_id, product_id, name, unit_price_cents, quantity) VALUES ('pgbench-' || :client_id || '-' || :r, :product, 'Bench', 1999, 1);
COMMIT;
"""  # noqa: E501


def pgbench(stack: Stack, product_id: int) -> dict:
    """Return PostgreSQL's ceiling for the hot-row reservation: pgbench in its container."""
    postgres = stack.containers["postgres"]
    script = "/tmp/flotilla-hot-row.sql"  # noqa: S108 (the postgres container's own /tmp)
    postgres.exec_run(["sh", "-c", f"printf '%s' \"$0\" > {script}", HOT_ROW_SQL])
    command = [
        "pgbench", "--no-vacuum", "--username=postgres",
        f"--client={CONNECTIONS}", f"--jobs={THREADS}", f"--time={SECONDS}",
        f"--define=product={product_id}", f"--file={script}", "products",
    ]  # fmt: skip
    before, started = stack.usage(), time.monotonic()
    code, output = postgres.exec_run(command, user="postgres")
    after, wall = stack.usage(), time.monotonic() - started
    text = output.decode()
    tps = re.search(r"^tps = ([0-9.]+)", text, re.MULTILINE)
    latency = re.search(r"^latency average = ([0-9.]+) ms", text, re.MULTILINE)
    if code != 0 or not tps:
        raise SystemExit(f"pgbench failed ({code}):\n{text}")
    cpu = (after["postgres"][0] - before["postgres"][0]) / 1e9 / wall
    result = {
        "tps": round(float(tps[1]), 1),
        "latency_avg_ms": float(latency[1]) if latency else None,
        "clients": CONNECTIONS,
        "postgres_cpu": round(cpu, 2),
    }
    print(f"  pgbench hot row  {result['tps']:9.1f} tx/s   avg {result['latency_avg_ms']} ms")
    return result


SHOWN = ["nginx", "api-gateway", "user-service", "product-service", "order-service", "postgres"]
SHORT = {"api-gateway": "gw", "user-service": "user", "product-service": "product",
         "order-service": "order", "postgres": "pg", "nginx": "nginx"}  # fmt: skip
HEADER = (
    "| path | direct req/s | p50 ms | p99 ms | edge req/s | p50 ms | p99 ms | edge/direct "
    "| CPU ms/req direct, edge | CPU cores (edge run) |\n|---|---|---|---|---|---|---|---|---|---|"
)
NONE = "-"


def ms(value: float) -> str:
    """Format milliseconds: two decimals below 1 ms, where NGINX alone answers."""
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def _cells(run: dict | None) -> list[str]:
    return [f"{run['rps']:.0f}", ms(run["p50_ms"]), ms(run["p99_ms"])] if run else [NONE] * 3


def cpu_ms_per_request(run: dict | None) -> str:
    """Return the CPU time every container of the stack spent per request (wrk excluded):
    what a request costs, which a busy machine changes less than req/s."""
    if not run or not run["rps"]:
        return NONE
    return f"{sum(run['cpu'].values()) / run['rps'] * 1000:.1f}"


def _cpu(run: dict) -> str:
    busy = [f"{SHORT[c]} {run['cpu'][c]:.2f}" for c in SHOWN if run["cpu"].get(c, 0) >= 0.05]
    text = ", ".join([*busy, f"wrk {run['wrk_cpu']:.2f}"])
    return text + (f" **errors {run['errors']}**" if run["errors"] else "")


def table(report: dict) -> str:
    """Return the results as a Markdown table (what docs/performance.md quotes)."""
    runs = {(run["case"], run["mode"]): run for run in report["runs"]}
    labels = {case.name: f"`{case.label}`" for case in CASES}
    lines = [HEADER]
    if ("nginx", "nginx") in runs:
        nginx = runs["nginx", "nginx"]
        cells = ["NGINX alone (`return 200`)", "", "", "", *_cells(nginx), "", "", _cpu(nginx)]
        lines.append("| " + " | ".join(cells) + " |")
    for name, label in labels.items():
        direct, edge = runs.get((name, "direct")), runs.get((name, "edge"))
        if not (direct or edge):
            continue
        ratio = f"{edge['rps'] / direct['rps']:.2f}" if direct and edge and direct["rps"] else NONE
        cost = f"{cpu_ms_per_request(direct)}, {cpu_ms_per_request(edge)}"
        cells = [label, *_cells(direct), *_cells(edge), ratio, cost, _cpu(edge or direct)]
        lines.append("| " + " | ".join(cells) + " |")
    pg = report.get("pgbench")
    if pg:
        lines.append(
            f"| PostgreSQL alone: the hot-row reservation (pgbench, {pg['clients']} clients) "
            f"| {pg['tps']:.0f} tx/s | | | | | | | | pg {pg['postgres_cpu']:.2f} |"
        )
    memory: dict[str, float] = {}
    for run in report["runs"]:
        for name, mib in run["memory_mib"].items():
            memory[name] = max(memory.get(name, 0.0), mib)
    listed = ", ".join(f"{name} {mib:.0f}" for name, mib in sorted(memory.items()))
    return "\n".join([*lines, "", f"Memory, the most seen at the end of a run (MiB): {listed}"])


@dataclass(frozen=True)
class Target:
    """A goal the table is held to: what it measures, the bound, and which way it points."""

    what: str
    bound: float
    at_least: bool  # True: measured >= bound; False: measured <= bound
    measure: Callable[[dict, dict], float | None]  # (runs by (case, mode), report) -> value


def _ratio(case: str) -> Callable[[dict, dict], float | None]:
    def measure(runs: dict, _report: dict) -> float | None:
        direct, edge = runs.get((case, "direct")), runs.get((case, "edge"))
        return edge["rps"] / direct["rps"] if direct and edge and direct["rps"] else None

    return measure


def _edge(case: str, key: str) -> Callable[[dict, dict], float | None]:
    return lambda runs, _report: runs[case, "edge"][key] if (case, "edge") in runs else None


def _per_request(cases: tuple[str, ...], cores: Callable[[dict], float | None]) -> Callable:
    """The most CPU ms per request, over the edge runs of cases, that cores(run) spent."""

    def measure(runs: dict, _report: dict) -> float | None:
        spent = [
            (cores(runs[c, "edge"]), runs[c, "edge"]["rps"]) for c in cases if (c, "edge") in runs
        ]
        return max(
            (used / rps * 1000 for used, rps in spent if rps and used is not None), default=None
        )

    return measure


def _hot_orders_to_pgbench(runs: dict, report: dict) -> float | None:
    edge, pg = runs.get(("order_hot", "edge")), report.get("pgbench")
    return edge["rps"] / pg["tps"] if edge and pg and pg["tps"] else None


FORWARDED = ("users_me", "orders_list")  # authenticated requests the gateway forwards
TARGETS = [
    Target("anonymous product read, edge / direct", 2.0, True, _ratio("product")),
    Target("anonymous product read, edge p99 ms", 20, False, _edge("product", "p99_ms")),
    Target("catalog list `?limit=20`, edge / direct", 2.0, True, _ratio("products_list")),
    Target("`/api/users/me`, edge / direct", 0.55, True, _ratio("users_me")),
    Target("`/api/orders`, edge / direct", 0.55, True, _ratio("orders_list")),
    Target("gateway CPU ms per forwarded authenticated request", 0.6, False,
           _per_request(FORWARDED, lambda run: run["cpu"].get("api-gateway", 0.0))),
    Target("orders on one hot product through the edge / pgbench", 0.25, True,
           _hot_orders_to_pgbench),
    Target("orders on one hot product through the edge, p99 ms", 200, False,
           _edge("order_hot", "p99_ms")),
    Target("Docker's CPU ms per request through the edge (log carrying)", 0.12, False,
           _per_request(FORWARDED, lambda run: run.get("docker_cpu"))),
]  # fmt: skip


def targets(report: dict) -> list[dict]:
    """Return every target with what this run measured and whether it is met."""
    runs = {(run["case"], run["mode"]): run for run in report["runs"]}
    checked = []
    for target in TARGETS:
        value = target.measure(runs, report)
        met = None if value is None else (value >= target.bound) == target.at_least
        bound = f"{'≥' if target.at_least else '≤'} {target.bound:g}"
        checked.append({"target": target.what, "goal": bound, "measured": value, "met": met})
    return checked


def targets_table(checked: list[dict]) -> str:
    """Return the targets as a Markdown table: measured, goal, met or not."""
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for row in checked:
        value = NONE if row["measured"] is None else f"{row['measured']:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[row["met"]]
        lines.append(f"| {row['target']} | {value} | {row['goal']} | {met} |")
    return "\n".join(lines)


def chart(report: dict, path: Path) -> None:
    """Draw req/s and p99 of every case, direct and through the edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [case.name for case in CASES if any(r["case"] == case.name for r in report["runs"])]
    runs = {(run["case"], run["mode"]): run for run in report["runs"]}
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    width = 0.38
    for offset, mode, colour in ((-width / 2, "direct", "#4c72b0"), (width / 2, "edge", "#dd8452")):
        xs = [index + offset for index in range(len(names))]
        top.bar(xs, [runs.get((n, mode), {}).get("rps", 0) for n in names], width, label=mode,
                color=colour)  # fmt: skip
        bottom.bar(xs, [runs.get((n, mode), {}).get("p99_ms", 0) for n in names], width,
                   color=colour)  # fmt: skip
    top.set_ylabel("requests/s")
    top.legend()
    pg = report.get("pgbench")
    if pg:
        top.axhline(pg["tps"] * 0.15, color="grey", linestyle=":", linewidth=1)
        top.text(len(names) - 0.5, pg["tps"] * 0.15, " 0.15 x pgbench", va="bottom", ha="right",
                 fontsize=8, color="grey")  # fmt: skip
    bottom.set_ylabel("p99 latency, ms")
    bottom.set_xticks(range(len(names)), names, rotation=15)
    load = f"load {report['loadavg_start'][0]:.2f} → {report['loadavg_end'][0]:.2f}"
    figure.suptitle(
        f"make bench {report['started']} (wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s; {load})"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> int:
    """Seed, measure every case and limit, print the table, write JSON and PNG."""
    started = datetime.now(UTC)
    report: dict = {
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_start": loadavg(),
        "cpus": os.cpu_count(),
        "smoke": SMOKE,
        "settings": {
            "threads": THREADS,
            "connections": CONNECTIONS,
            "seconds": SECONDS,
            "repeat": REPEAT,
        },
        "runs": [],
    }
    api = Api()
    wait_ready(api)
    print(f"seeding through {BASE_URL}", flush=True)
    data = seed(api)
    stack = Stack(docker.from_env())
    stack.engine_idle = report["docker_idle_cores"] = round(idle_engine(2 if SMOKE else 10), 3)
    report["git"] = os.environ.get("BENCH_GIT", "")
    print(
        f"measuring (wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s, in each target's namespace;"
        f" the median of {REPEAT} run(s) per row)"
    )
    runs = report["runs"]
    if not ONLY or "nginx" in ONLY:
        runs.append(asdict(measure(stack, "nginx", "nginx", "nginx", "/nginx-health", {})))
    for case in CASES:
        if ONLY and case.name not in ONLY:
            continue
        path = case.path.format(hot=data["hot"])
        env = {"BENCH_TOKEN": data[case.token] if case.token else ""}
        if case.products:
            ids = [data["hot"]] if case.products == "hot" else data["spread"]
            env["BENCH_PRODUCTS"] = ",".join(map(str, ids))
        direct, edge = [], []
        for _ in range(REPEAT):  # in turn, so that both columns meet the same moments
            if case.service:
                direct.append(measure(stack, case.name, "direct", case.service, path, env))
            edge.append(measure(stack, case.name, "edge", "nginx", path, env))
        runs += [asdict(median(measured)) for measured in (direct, edge) if measured]
    if not ONLY or "pgbench" in ONLY:
        report["pgbench"] = pgbench(stack, data["hot"])
    report["loadavg_end"] = loadavg()
    report["finished"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report["table"] = table(report)
    report["targets"] = targets(report)

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / ("smoke" if SMOKE else f"bench-{started:%Y%m%dT%H%M%SZ}")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    chart(report, stem.with_suffix(".png"))
    owner = RESULTS.stat()
    for written in (stem.with_suffix(".json"), stem.with_suffix(".png")):
        os.chown(written, owner.st_uid, owner.st_gid)  # the host user's, not root's
    print()
    print(report["table"])
    print()
    print(targets_table(report["targets"]))
    load = f"{report['loadavg_start']} → {report['loadavg_end']}"
    print(f"\nload average (1, 5, 15 min) {load} on {report['cpus']} CPUs")
    print(f"wrote {stem}.json and {stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
