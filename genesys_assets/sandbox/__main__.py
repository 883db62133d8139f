"""Run the sandbox Genesys org from the command line until killed.

    python -m genesys_assets.sandbox --port 8765 --queues 20 --days 90 --timezone Europe/Berlin

Prints the URL (API and login host), the client id and secret, and a sample token + query with curl.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date, timedelta

import orjson

from genesys_assets.localtime import iso_interval, local_midnight
from genesys_assets.sandbox.config import ConfigError, SandboxConfig, parse_fault_rates
from genesys_assets.sandbox.server import SandboxServer
from genesys_assets.schema import AGGREGATE_METRICS


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m genesys_assets.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 = a free port; default 8765)")
    p.add_argument("--queues", type=int, default=10, help="queues in the org (default 10)")
    p.add_argument("--days", type=int, default=90, help="days of data ending today (default 90)")
    p.add_argument("--start", type=date.fromisoformat, help="first day with data (overrides --days)")
    p.add_argument("--end", type=date.fromisoformat, help="last day with data (default today)")
    p.add_argument("--timezone", default="UTC", help="the org's IANA timezone (default UTC)")
    p.add_argument("--seed", type=int, default=7, help="data seed (default 7)")
    p.add_argument("--volume", type=float, default=60.0, help="voice conversations per queue and weekday")
    p.add_argument("--client-id", default="sandbox-client")
    p.add_argument("--client-secret", default="sandbox-secret")
    p.add_argument(
        "--rps", type=float, default=None, help="server rate limit, requests per second (default off)"
    )
    p.add_argument("--burst", type=int, default=10, help="rate limit burst (default 10)")
    p.add_argument("--token-lifetime", type=float, default=86400.0, help="token lifetime in seconds")
    p.add_argument("--fault-rates", default="", help='random faults, e.g. "429=0.05,503=0.02,reset=0.01"')
    p.add_argument("--outage-days", default="", help="comma-separated ISO dates answering 503")
    p.add_argument("--max-query-days", type=int, default=7)
    p.add_argument("--max-job-days", type=int, default=31)
    p.add_argument("--job-page-size", type=int, default=50)
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The SandboxConfig the CLI arguments describe."""
    end = args.end or date.today()
    start = args.start or end - timedelta(days=max(args.days, 1) - 1)
    return SandboxConfig(
        seed=args.seed,
        queue_count=args.queues,
        timezone=args.timezone,
        start_date=start,
        end_date=end,
        conversations_per_queue_day=args.volume,
        client_id=args.client_id,
        client_secret=args.client_secret,
        requests_per_second=args.rps,
        burst=args.burst,
        token_lifetime_s=args.token_lifetime,
        fault_rates=parse_fault_rates(args.fault_rates),
        outage_days=frozenset(date.fromisoformat(d) for d in args.outage_days.split(",") if d.strip()),
        max_query_days=args.max_query_days,
        max_job_days=args.max_job_days,
        job_page_size=args.job_page_size,
    )


def usage_text(sandbox: SandboxServer) -> str:
    """What the CLI prints: URL, credentials and a sample token + aggregates query."""
    cfg = sandbox.config
    day = cfg.end_date - timedelta(days=1) if cfg.end_date > cfg.start_date else cfg.end_date
    interval = iso_interval(
        local_midnight(day, cfg.timezone), local_midnight(day + timedelta(days=1), cfg.timezone)
    )
    query = orjson.dumps(
        {
            "interval": interval,
            "granularity": "PT30M",
            "timeZone": cfg.timezone,
            "groupBy": ["queueId", "mediaType"],
            "metrics": list(AGGREGATE_METRICS),
        }
    ).decode()
    return "\n".join(
        [
            f"Sandbox Genesys org listening on {sandbox.url}",
            f"  queues: {cfg.queue_count}, timezone: {cfg.timezone}, data: {cfg.start_date} .. {cfg.end_date}",
            f"  GENESYS_API_URL={sandbox.url}",
            f"  GENESYS_LOGIN_URL={sandbox.url}",
            f"  GENESYS_CLIENT_ID={cfg.client_id}",
            f"  GENESYS_CLIENT_SECRET={cfg.client_secret}",
            "",
            "Sample query:",
            f"  TOKEN=$(curl -s -u {shlex.quote(cfg.client_id + ':' + cfg.client_secret)} "
            f"-d grant_type=client_credentials {sandbox.url}/oauth/token | python3 -c "
            "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
            f'  curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" '
            f"-d {shlex.quote(query)} {sandbox.url}/api/v2/analytics/conversations/aggregates/query",
            "",
            f"Admin: {sandbox.url}/sandbox/config (GET/POST), /sandbox/stats, /sandbox/health. Ctrl+C stops.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    server = SandboxServer(config, host=args.host, port=args.port)
    server.start()
    print(usage_text(server), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
