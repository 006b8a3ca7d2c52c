"""Order placement throughput: the real JSON API under gunicorn against the same work in
plain SQL run by pgbench, on one fresh PostgreSQL database, in one run.

    make bench                                   # DATABASE_URL must point at PostgreSQL
    .venv/bin/python -m tests.bench.placement --target=both --worker-class=both

What it does, in order (every loop is bounded in time and in count; loopback only):

1. Creates a fresh database ``<name>_bench`` next to DATABASE_URL's (dropped and created
   again on every run), migrates it, and seeds it: one warehouse, 60 products with a million
   units each, one hot product, 2,000 returning customers with their address, a sales
   channel with an API token (``orders.tokens.api_token_create``).
2. ``--target=api``: starts gunicorn (``config.wsgi``, 4 workers, sync and/or gthread) on a
   loopback port in the production shape (DEBUG off, CONN_MAX_AGE=60), and 8 client threads
   with keep-alive ``http.client`` connections POST ``/api/v1/orders`` (bearer token, a new
   Idempotency-Key per request, 3 lines of 1 unit, a random returning customer) for a warm-up
   and then a fixed duration. Then the hot-SKU race: 1-line orders of one product.
3. ``--target=service``: the same orders through ``orders.services.order_place`` in 8 threads
   of this process (no HTTP, no gunicorn): what the ORM code costs by itself.
4. pgbench runs ``placement.sql`` (the same transaction in plain SQL), ``placement_min.sql``
   (the smallest version) and ``hot_sku.sql`` with 8 clients, 2 threads, same duration.
5. Prints one table (orders/s, p50, p95, and the CPU per order of the application and of the
   PostgreSQL backends, read from /proc), the ratio API ÷ pgbench against the targets of
   issue B (>= 25 %, p95 < 100 ms), and checks the ledger (``stock_discrepancies``).

Exit status: 0 when every run completed (the targets are reported, not enforced, unless
``--strict``); 2 when the database is not PostgreSQL (nothing is run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

CLIENTS = 8
N_PRODUCTS = 60  # a multiple of 3: each order takes one product from each third
N_CUSTOMERS = 2000
STOCK_PER_PRODUCT = 1_000_000
HOT_SKU = "BENCH-HOT"
MAX_REQUESTS_PER_CLIENT = 1_000_000  # a bound on every client loop, besides the clock
TARGET_RATIO = 0.25
TARGET_P95_MS = 100.0
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "Hafenstraße 12",
    "line2": "",
    "city": "Hamburg",
    "region": "",
    "postal_code": "20457",
    "country": "DE",
}


# ---------------------------------------------------------------- results


@dataclass
class Result:
    label: str
    lines: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    tps: float | None = None  # pgbench reports its own rate
    app_cpu: float | None = None  # CPU seconds of the application (gunicorn or this process)
    db_cpu: float | None = None  # CPU seconds of the PostgreSQL backends serving the bench
    client_cpu: float | None = None  # CPU seconds of the load generator (the API's clients)
    note: str = ""

    def per_order_ms(self, cpu: float | None) -> float:
        count = self.tps * self.seconds if self.tps is not None else self.done
        return math.nan if cpu is None or not count else cpu * 1000 / count

    @property
    def done(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.tps if self.tps is not None else self.done / self.seconds

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- CPU used, from /proc

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(process group, CPU seconds) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[2]), (int(rest[11]) + int(rest[12])) / CLOCK_TICKS


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the living processes of a process group."""
    total = 0.0
    for pid in _pids():
        st = _stat(pid)
        if st and st[0] == pgid:
            total += st[1]
    return total


def backend_pids(dbname: str) -> list[int]:
    """PostgreSQL backends connected to ``dbname`` (their process title names it)."""
    needle = f" {dbname} ".encode()
    found = []
    for pid in _pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres:") and needle in title.replace(b"\0", b" "):
            found.append(pid)
    return found


class CpuMeter:
    """CPU seconds used between begin() and end() by the PostgreSQL backends of one database
    (sampled, so backends that come and go are counted) and by the application: a process
    group (gunicorn), this process (``own=True``), or nothing. Only on Linux with /proc
    readable (same machine as PostgreSQL); otherwise it measures nothing."""

    def __init__(self, dbname: str, *, pgid: int | None = None, own: bool = False):
        self.dbname, self.pgid, self.own = dbname, pgid, own
        self.available = Path("/proc/self/stat").exists()
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.app_cpu: float | None = None
        self.db_cpu: float | None = None
        self.client_cpu: float | None = None

    def _app(self) -> float | None:
        if self.pgid is not None:
            return group_cpu(self.pgid)
        if self.own:
            t = os.times()
            return t.user + t.system
        return None

    def _sample(self, initial: bool) -> None:
        for pid in backend_pids(self.dbname):
            st = _stat(pid)
            if st is None:
                continue
            # A backend that appears during the window started from (about) nothing.
            self.first.setdefault(pid, st[1] if initial else 0.0)
            self.last[pid] = st[1]

    def _loop(self) -> None:
        for _ in range(100_000):
            if self._stop.wait(0.25):
                break
            self._sample(initial=False)

    def begin(self) -> None:
        if not self.available:
            return
        self._app0 = self._app()
        self._own0 = sum(os.times()[:2])
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._loop, name="cpu-meter", daemon=True)
        self._thread.start()

    def end(self) -> None:
        if not self.available or self._thread is None:
            return
        self._sample(initial=False)
        self._stop.set()
        self._thread.join(timeout=5)
        app1 = self._app()
        self.app_cpu = None if self._app0 is None or app1 is None else app1 - self._app0
        # This process: the client threads (API runs; in service runs it is the application).
        self.client_cpu = None if self.own else sum(os.times()[:2]) - self._own0
        self.db_cpu = sum(self.last[pid] - self.first[pid] for pid in self.last)


def drive(
    label: str,
    lines: int,
    make_client,
    *,
    warmup: float,
    duration: float,
    meter: CpuMeter | None = None,
) -> Result:
    """Run CLIENTS threads, each calling ``make_client(i)()`` in a loop: a warm-up, then
    ``duration`` seconds measured. A request counts when it completes inside the window.
    The callable returns None on success or a short error label."""
    result = Result(label=label, lines=lines, seconds=duration)
    lock = threading.Lock()
    start = time.perf_counter() + 0.5 + warmup
    end = start + duration
    barrier = threading.Barrier(CLIENTS)

    def run(i: int) -> None:
        call, close = make_client(i)
        mine, errors = [], Counter()
        try:
            barrier.wait(timeout=30)
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                try:
                    error = call()
                except Exception as exc:  # a broken connection, a crash: counted, never hidden
                    error = f"{exc.__class__.__name__}: {str(exc)[:80]}"
                t1 = time.perf_counter()
                if start <= t1 <= end:
                    if error is None:
                        mine.append((t1 - t0) * 1000)
                    else:
                        errors[error] += 1
        finally:
            close()
            with lock:
                result.latencies_ms.extend(mine)
                result.errors.update(errors)

    def window() -> None:
        time.sleep(max(0.0, start - time.perf_counter()))
        meter.begin()
        time.sleep(max(0.0, end - time.perf_counter()))
        meter.end()

    threads = [
        threading.Thread(target=run, args=(i,), name=f"bench-client-{i}") for i in range(CLIENTS)
    ]
    if meter is not None:
        threads.append(threading.Thread(target=window, name="bench-window"))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=warmup + duration + 120)
    if any(t.is_alive() for t in threads):
        raise SystemExit(f"{label}: a client thread did not finish (hung request?)")
    if meter is not None:
        result.app_cpu, result.db_cpu = meter.app_cpu, meter.db_cpu
        result.client_cpu = meter.client_cpu if meter.pgid is not None else None
    return result


def order_body(rng: random.Random, skus: list[str], *, hot: bool) -> dict:
    c = rng.randrange(N_CUSTOMERS)
    if hot:
        lines = [{"sku": HOT_SKU, "quantity": 1}]
    else:
        third = len(skus) // 3
        lines = [{"sku": skus[k * third + rng.randrange(third)], "quantity": 1} for k in range(3)]
    return {
        "external_id": uuid.uuid4().hex,
        "customer": {"email": f"bench{c}@example.com", "name": f"Bench customer {c}"},
        "shipping_address": dict(ADDRESS),
        "lines": lines,
        "shipping_method": "standard",
        "payment_method": "card",
    }


# ---------------------------------------------------------------- the API through gunicorn


def api_client_factory(port: int, token: str, skus: list[str], *, hot: bool, run: int):
    """``run`` seeds the clients: each run orders other customer/product combinations, so no
    order of one run is a probable duplicate (same customer, same lines within 10 minutes,
    put on hold) of an order of an earlier run."""

    def make(i: int):
        rng = random.Random(run * 1000 + i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def call():
            nonlocal conn
            body = json.dumps(order_body(rng, skus, hot=hot)).encode()
            headers = {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": str(uuid.uuid4()),
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
            try:
                conn.request("POST", "/api/v1/orders", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()  # http.client opens a new connection on the next request
                raise
            if response.status == 201:
                return None
            try:
                detail = json.loads(data).get("title") or ""
            except ValueError:
                detail = data[:60].decode("utf-8", "replace")
            return f"HTTP {response.status} {detail}"

        return call, conn.close

    return make


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there (never benchmark someone else's server), or any
    free loopback port when it is 0."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            raise SystemExit(
                f"port {preferred} on 127.0.0.1 is in use: choose another with --port"
            ) from None
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(
    env: dict, port: int, worker_class: str, logdir: Path, *, workers: int = 4, threads: int = 2
):
    """gunicorn config.wsgi on 127.0.0.1:port; stopped (its own process group) on exit."""
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
    ]
    if worker_class == "gthread":
        cmd += ["--threads", str(threads)]
    log_path = logdir / f"gunicorn-{worker_class}.log"
    log = open(log_path, "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        for _ in range(1000):
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{tail(log_path)}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer /healthz within 60 s:\n{tail(log_path)}")
            time.sleep(0.3)
        else:
            raise SystemExit(f"gunicorn did not answer /healthz:\n{tail(log_path)}")
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- order_place in threads


def service_client_factory(channel, products: dict, *, hot: bool, run: int):
    from django.db import connection

    from orders.services import LineInput, order_place

    skus = sorted(s for s in products if s != HOT_SKU)

    def make(i: int):
        rng = random.Random(run * 1000 + i)

        def call():
            body = order_body(rng, skus, hot=hot)
            order_place(
                channel=channel,
                email=body["customer"]["email"],
                name=body["customer"]["name"],
                address=body["shipping_address"],
                lines=[
                    LineInput(product=products[ln["sku"]], quantity=ln["quantity"])
                    for ln in body["lines"]
                ],
                actor=None,
                source="api",
                shipping_method=body["shipping_method"],
                payment_method=body["payment_method"],
                external_id=body["external_id"],
            )
            return None

        return call, connection.close

    return make


# ---------------------------------------------------------------- pgbench


def find_pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pgbench"), key=lambda p: p.parts[-3]
    )
    if candidates:
        return str(candidates[-1])
    raise SystemExit(
        "pgbench not found: it ships with PostgreSQL (e.g. /usr/lib/postgresql/<v>/bin/pgbench)."
    )


def run_pgbench(
    pgbench: str,
    db: dict,
    script: str,
    variables: dict,
    *,
    duration: float,
    warmup: float,
    logdir: Path,
    label: str,
    lines: int,
) -> Result:
    base = [
        pgbench,
        "-n",
        "-c",
        str(CLIENTS),
        "-j",
        "2",
        "-h",
        db["host"],
        "-p",
        str(db["port"]),
        "-U",
        db["user"],
    ]
    for k, v in variables.items():
        base += ["-D", f"{k}={v}"]
    env = {**os.environ, "PGPASSWORD": db["password"], "PGAPPNAME": "orderline-bench"}
    script_path = str(HERE / script)
    if warmup > 0:
        warm = subprocess.run(
            [*base, "-T", str(max(1, round(warmup))), "-f", script_path, db["name"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=warmup + 60,
        )
        if warm.returncode != 0:
            raise SystemExit(
                f"pgbench {script} (warm-up) failed ({warm.returncode}):\n{warm.stderr[-3000:]}"
            )
    prefix = logdir / f"pgbench-{Path(script).stem}"
    meter = CpuMeter(db["name"])
    meter.begin()
    proc = subprocess.run(
        [
            *base,
            "-T",
            str(round(duration)),
            "-f",
            script_path,
            "-l",
            "--log-prefix",
            str(prefix),
            db["name"],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 120,
    )
    meter.end()
    if proc.returncode != 0:
        raise SystemExit(
            f"pgbench {script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
        )
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", proc.stdout)
    if not match:
        raise SystemExit(f"pgbench {script}: no tps in its output:\n{proc.stdout}")
    latencies = []
    for path in logdir.glob(f"{prefix.name}.*"):
        for row in path.read_text().splitlines():
            parts = row.split()
            if len(parts) >= 3 and parts[2].isdigit():  # client_id transaction_no time_us ...
                latencies.append(int(parts[2]) / 1000)
    failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
    result = Result(
        label=label,
        lines=lines,
        seconds=duration,
        latencies_ms=latencies,
        tps=float(match.group(1)),
        db_cpu=meter.db_cpu,
    )
    if failed and int(failed.group(1)):
        result.errors["failed transactions"] = int(failed.group(1))
    return result


# ---------------------------------------------------------------- the database


def parse_db(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "scheme": parts.scheme,
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "name": parts.path.lstrip("/"),
        "url": url,
    }


def bench_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def recreate_database(db: dict, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=db["host"],
        port=db["port"],
        user=db["user"],
        password=db["password"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(db: dict, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=db["host"],
        port=db["port"],
        user=db["user"],
        password=db["password"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def seed() -> dict:
    """The shop the bench orders from. Returns what the clients need."""
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.db import connection

    from core.models import Sequence
    from customers.models import Address, Customer
    from inventory.models import Product, Warehouse
    from inventory.services import stock_receive
    from orders.models import SalesChannel
    from orders.tokens import api_token_create

    manager = User.objects.create(
        username="bench", is_superuser=True, is_staff=True, email="bench@example.com"
    )
    warehouse = Warehouse.objects.create(code="BEN", name="Bench warehouse", priority=1)
    Product.objects.bulk_create(
        [
            Product(
                sku=f"BENCH-{i:03d}",
                name=f"Bench product {i}",
                price=Decimal("10.00"),
                tax_rate=Decimal("0.1900"),
            )
            for i in range(N_PRODUCTS)
        ]
        + [
            Product(
                sku=HOT_SKU,
                name="The hot product",
                price=Decimal("10.00"),
                tax_rate=Decimal("0.1900"),
            )
        ]
    )
    products = {p.sku: p for p in Product.objects.filter(sku__startswith="BENCH-")}
    for p in products.values():
        stock_receive(
            product=p,
            warehouse=warehouse,
            quantity=STOCK_PER_PRODUCT * (10 if p.sku == HOT_SKU else 1),
            actor=manager,
            reference="BENCH-SEED",
        )
    Customer.objects.bulk_create(
        [
            Customer(email=f"bench{c}@example.com", name=f"Bench customer {c}")
            for c in range(N_CUSTOMERS)
        ]
    )
    Address.objects.bulk_create(
        [Address(customer=c, is_default=True, phone="", **ADDRESS) for c in Customer.objects.all()]
    )
    Sequence.objects.get_or_create(name="order")
    channel = SalesChannel.objects.create(slug="bench-api", name="Bench API", kind="api")
    _, token = api_token_create(name="make bench", channel=channel, actor=manager)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    ids = sorted(p.pk for sku, p in products.items() if sku != HOT_SKU)
    assert ids == list(range(ids[0], ids[0] + N_PRODUCTS)), "bench product ids must be consecutive"
    return {
        "token": token,
        "channel": channel,
        "products": products,
        "skus": sorted(s for s in products if s != HOT_SKU),
        "pgbench_vars": {
            "pmin": ids[0],
            "nprod": N_PRODUCTS,
            "ncust": N_CUSTOMERS,
            "wh": warehouse.pk,
            "channel": channel.pk,
            "hot": products[HOT_SKU].pk,
            "cust": Customer.objects.order_by("pk").values_list("pk", flat=True).first(),
        },
    }


def ledger_check() -> str:
    from django.db.models import F

    from inventory.models import StockLevel
    from inventory.selectors import stock_discrepancies

    problems = stock_discrepancies()
    bad = (
        StockLevel.objects.filter(reserved__gt=F("on_hand")).count()
        + StockLevel.objects.filter(reserved__lt=0).count()
    )
    if problems or bad:
        return f"NOT CLEAN: {len(problems)} level(s) differ from the ledger, {bad} out of bounds: {problems[:3]}"
    return "clean (every level equals its ledger, 0 <= reserved <= on_hand)"


# ---------------------------------------------------------------- the report


def fmt_ms(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.1f}"


def print_table(results: list[Result]) -> None:
    header = (
        f"{'run':<52} {'lines':>5} {'orders':>7} {'errors':>6} {'orders/s':>9} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'app CPU':>8} {'PG CPU':>7} {'clients':>8}"
    )
    print(header)
    print(" " * 93 + "ms/order ms/order ms/order")
    print("-" * len(header))
    for r in results:
        print(
            f"{r.label:<52} {r.lines:>5} {r.done:>7} {sum(r.errors.values()):>6} {r.rate:>9.1f} "
            f"{fmt_ms(r.pct(50)):>7} {fmt_ms(r.pct(95)):>7} "
            f"{fmt_ms(r.per_order_ms(r.app_cpu)):>8} {fmt_ms(r.per_order_ms(r.db_cpu)):>7} "
            f"{fmt_ms(r.per_order_ms(r.client_cpu)):>8}"
        )
    for r in results:
        for error, n in r.errors.most_common(5):
            print(f"  ! {r.label}: {n} × {error}")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        choices=["api", "service", "both"],
        default="both",
        help="api: gunicorn + the JSON API; service: order_place in threads; both (default)",
    )
    parser.add_argument(
        "--worker-class",
        choices=["gthread", "sync", "both"],
        default="both",
        help="gunicorn worker class (4 workers; gthread with 2 threads each); both compares them",
    )
    parser.add_argument(
        "--workers", type=int, default=4, help="gunicorn worker processes (default 4)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads per gthread worker (default 2)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="warm-up seconds before each run (default 3)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="loopback port for gunicorn (default: a free one)"
    )
    parser.add_argument(
        "--database",
        default="",
        help="name of the bench database (default: <DATABASE_URL name>_bench)",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the bench database at the end"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target of issue B is missed"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 120:
        parser.error("--duration must be 1..600 s and --warmup 0..120 s")

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        print(
            "make bench needs PostgreSQL: set DATABASE_URL=postgres://USER@HOST:PORT/NAME "
            "(the bench creates and drops its own database NAME_bench next to it). Nothing was run."
        )
        return 2
    db = parse_db(url)
    name = args.database or f"{db['name']}_bench"
    if name == db["name"]:
        parser.error(
            "the bench database must not be DATABASE_URL's own database: it is dropped and recreated"
        )
    pgbench = find_pgbench()
    url = bench_url(url, name)
    db = {**db, "name": name, "url": url}
    workdir = Path(tempfile.mkdtemp(prefix="orderline-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The production shape (docker-compose.yml): no debug, persistent connections.
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        # The confirmation emails are queued after commit; a broker of the bench's own in a
        # temporary directory, so no worker ever picks up a bench order.
        "ORDERLINE_VAR_DIR": str(workdir / "var"),
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    print(
        f"Preparing database {name} (dropped and created again), migrating, seeding ...", flush=True
    )
    recreate_database(db, name)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    import django

    django.setup()
    from django.db import connection, connections

    shop = seed()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    connections.close_all()

    load_before = os.getloadavg()
    results: list[Result] = []
    api_best: Result | None = None
    hot_best: Result | None = None
    port = free_port(args.port)
    classes = ["gthread", "sync"] if args.worker_class == "both" else [args.worker_class]
    try:
        if args.target in ("api", "both"):
            for n, wc in enumerate(classes):
                label = f"API  POST /api/v1/orders  gunicorn {args.workers}×{wc}" + (
                    f" ({args.threads} thr.)" if wc == "gthread" else ""
                )
                print(f"Running {label} ...", flush=True)
                with gunicorn(
                    env, port, wc, workdir, workers=args.workers, threads=args.threads
                ) as server:
                    r = drive(
                        label,
                        3,
                        api_client_factory(
                            port, shop["token"], shop["skus"], hot=False, run=2 * n + 1
                        ),
                        warmup=args.warmup,
                        duration=args.duration,
                        meter=CpuMeter(name, pgid=server.pid),
                    )
                    h = drive(
                        f"hot SKU  API  gunicorn {args.workers}×{wc}",
                        1,
                        api_client_factory(
                            port, shop["token"], shop["skus"], hot=True, run=2 * n + 2
                        ),
                        warmup=1.0,
                        duration=args.duration,
                        meter=CpuMeter(name, pgid=server.pid),
                    )
                results += [r, h]
                if api_best is None or r.rate > api_best.rate:
                    api_best, hot_best = r, h
        if args.target in ("service", "both"):
            label = "service  order_place() in 8 threads, no HTTP"
            print(f"Running {label} ...", flush=True)
            results.append(
                drive(
                    label,
                    3,
                    service_client_factory(shop["channel"], shop["products"], hot=False, run=9),
                    warmup=args.warmup,
                    duration=args.duration,
                    meter=CpuMeter(name, own=True),
                )
            )
            connections.close_all()
        print("Running pgbench ...", flush=True)
        variables = shop["pgbench_vars"]
        sql_full = run_pgbench(
            pgbench,
            db,
            "placement.sql",
            variables,
            duration=args.duration,
            warmup=args.warmup,
            logdir=workdir,
            label="pgbench  placement.sql (same transaction)",
            lines=3,
        )
        sql_min = run_pgbench(
            pgbench,
            db,
            "placement_min.sql",
            variables,
            duration=args.duration,
            warmup=0,
            logdir=workdir,
            label="pgbench  placement_min.sql (smallest)",
            lines=3,
        )
        sql_hot = run_pgbench(
            pgbench,
            db,
            "hot_sku.sql",
            variables,
            duration=args.duration,
            warmup=0,
            logdir=workdir,
            label="hot SKU  pgbench  hot_sku.sql",
            lines=1,
        )
        results += [sql_full, sql_min, sql_hot]
        ledger = ledger_check()
        load_after = os.getloadavg()
    finally:
        connections.close_all()
        if not args.keep_database:
            drop_database(db, name)
        shutil.rmtree(workdir, ignore_errors=True)

    import django as dj

    print()
    print(
        f"Orderline placement benchmark · {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} · "
        f"{platform.node()} · {os.cpu_count()} CPU(s) · PostgreSQL {pg_version} (synchronous_commit={sync_commit}) "
        f"· Python {platform.python_version()} · Django {dj.get_version()}"
    )
    print(
        f"{CLIENTS} clients, {args.warmup:g} s warm-up, {args.duration:g} s measured per run; "
        f"API: DEBUG off, CONN_MAX_AGE=60, keep-alive connections, a new Idempotency-Key per order"
    )
    print(
        f"Load average (1 min) before the runs {load_before[0]:.2f}, after {load_after[0]:.2f}: "
        "figures from a machine busy with other work are lower and noisier"
    )
    print()
    print_table(results)
    print()
    missed = False
    if api_best is not None:
        ratio = api_best.rate / sql_full.rate
        p95 = api_best.pct(95)
        missed = ratio < TARGET_RATIO or not p95 < TARGET_P95_MS
        print(f"Best API run: {api_best.label}")
        print(
            f"  API ÷ plain SQL (placement.sql) = {api_best.rate:.1f} ÷ {sql_full.rate:.1f} = {ratio:.1%}   "
            f"target >= {TARGET_RATIO:.0%}: {verdict(ratio >= TARGET_RATIO)}"
        )
        print(f"  API ÷ smallest SQL (placement_min.sql) = {api_best.rate / sql_min.rate:.1%}")
        print(
            f"  API p95 = {fmt_ms(p95)} ms   target < {TARGET_P95_MS:.0f} ms: {verdict(p95 < TARGET_P95_MS)}"
        )
        print(
            f"  hot SKU: {hot_best.rate:.1f} reservations/s through the API, {sql_hot.rate:.1f}/s in plain SQL "
            f"({hot_best.rate / sql_hot.rate:.1%})"
        )
    else:
        print("API not run (--target=service): no ratio to the targets.")
    print(f"Ledger after all runs: {ledger}")
    errors = sum(sum(r.errors.values()) for r in results)
    if errors:
        print(f"{errors} request(s) failed: see the ! lines above.")
    if "NOT CLEAN" in ledger or errors:
        return 1
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
