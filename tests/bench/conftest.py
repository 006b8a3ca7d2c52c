"""Options of `make bench` (pass them with PYTEST_ARGS, e.g. `make bench PYTEST_ARGS=--target=service`)."""


def pytest_addoption(parser):
    group = parser.getgroup("orderline bench")
    group.addoption(
        "--target",
        choices=["api", "service", "both"],
        default="both",
        help="api: gunicorn + POST /api/v1/orders; service: order_place() in 8 threads; both (default)",
    )
    group.addoption(
        "--worker-class",
        choices=["gthread", "sync", "both"],
        default="both",
        help="gunicorn worker class, 4 workers (default: both, compared)",
    )
    group.addoption("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    group.addoption("--threads", type=int, default=2, help="threads per gthread worker (default 2)")
    group.addoption("--bench-duration", type=float, default=10.0, help="measured seconds per run")
    group.addoption(
        "--bench-warmup", type=float, default=3.0, help="warm-up seconds before each run"
    )
    group.addoption(
        "--bench-port", type=int, default=0, help="loopback port for gunicorn (0: a free one)"
    )
    group.addoption(
        "--bench-strict", action="store_true", help="fail when a target of issue B is missed"
    )
