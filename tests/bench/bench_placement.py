"""`make bench`: order placement throughput, printed as a table (see tests/bench/placement.py).

A benchmark, not a test: it fails only when a run cannot complete (or, with --bench-strict,
when a target is missed). It runs the bench in a child process, which creates, migrates,
seeds and finally drops its own database next to DATABASE_URL's.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_placement_throughput(request):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "make bench needs PostgreSQL: run it as DATABASE_URL=postgres://USER@HOST:PORT/NAME make bench "
            "(it creates and drops its own database NAME_bench next to NAME)"
        )
    option = request.config.getoption
    cmd = [
        sys.executable,
        "-m",
        "tests.bench.placement",
        "--target",
        option("--target"),
        "--worker-class",
        option("--worker-class"),
        "--duration",
        str(option("--bench-duration")),
        "--warmup",
        str(option("--bench-warmup")),
        "--port",
        str(option("--bench-port")),
        "--workers",
        str(option("--workers")),
        "--threads",
        str(option("--threads")),
    ]
    if option("--bench-strict"):
        cmd.append("--strict")
    # Output goes straight to the terminal (make bench runs pytest with -s).
    proc = subprocess.run(cmd, cwd=ROOT, timeout=1800, check=False)
    assert proc.returncode == 0, f"the bench exited with {proc.returncode} (see its output above)"
