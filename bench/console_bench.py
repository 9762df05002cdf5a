"""Console benchmark: every console page's time over a province of generated submissions, through
gunicorn on PostgreSQL.

    .venv/bin/python bench/console_bench.py [--households 160000] [--previous-year 0.15] [--repeat 5]
        [--province 01] [--villages-per-commune 10] [--json] [--keep | --reuse DATABASE]

1. creates a throwaway database on the PostgreSQL server of ``--database-url`` (default
   127.0.0.1:5432, user postgres) and drops it at the end (``--keep`` leaves it);
2. ``rasoat init``, then ``bench/bulk_households.py`` fills it (as ``bench/reports_bench.py``
   does: by default 160,000 households with 15 % of them reviewed the year before, about 200,000
   submissions), and VACUUM ANALYZE;
3. starts gunicorn (1 worker x 2 gthreads: one page at a time is what is measured), logs a
   national admin and the supervisor of the province's first commune in *through the console's
   login form* (cookie session and CSRF token, as a browser does);
4. GETs every console page ``--repeat`` times, reading each answer to its last byte, and reports
   the first (cold) and the median time. The client is on the same machine, so the time is the
   server's time plus a loopback round trip.

The target (issue 11): every console page under 500 ms server time with 200,000 submissions.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_households import generate, log  # noqa: E402
from reports_bench import PASSWORD, YEAR, _describe, _first_commune, accounts  # noqa: E402
from sync_load import BIN, ENV, ROOT, Gunicorn, admin, machine, pg_url, sqlalchemy_url  # noqa: E402

TARGET_S = 0.5


class Browser:
    """Cookies and a CSRF token over plain HTTP: what the console needs from a browser."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        wall = time.perf_counter() - t0
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for name, morsel in cookie.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        conn.close()
        return response.status, data, wall

    def log_in(self, username: str) -> None:
        status, page, _ = self.request("GET", "/console/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urlencode({"username": username, "password": PASSWORD, "csrf_token": token}).encode()
        status, _, _ = self.request("POST", "/console/login", body,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303:
            raise RuntimeError(f"console login {username}: {status}")


def _ids(db_url: str, commune: str) -> dict:
    import psycopg

    with psycopg.connect(db_url) as conn:
        village = conn.execute("SELECT min(code) FROM areas WHERE parent_code = %s", (commune,)).fetchone()[0]
        submission, household = conn.execute(
            "SELECT id, household_id FROM submissions WHERE area_code LIKE %s ORDER BY id LIMIT 1",
            (commune + "-%",)).fetchone()
    return {"village": village, "submission": str(submission), "household": str(household)}


def pages(province: str, commune: str, ids: dict) -> list[tuple[str, str, str]]:
    """(who, label, path) for every console page, with the queries a user would send."""
    y = f"year={YEAR}"
    return [
        ("supervisor", "dashboard (commune)", f"/console/dashboard?{y}"),
        ("supervisor", "dashboard, official figures", f"/console/dashboard?{y}&counts=official"),
        ("supervisor", "map (commune)", f"/console/map?{y}"),
        ("supervisor", "season", f"/console/season?{y}"),
        ("supervisor", "season: meeting roll (village)", f"/console/season/meetings?village={ids['village']}&{y}"),
        ("supervisor", "season: posting list (village)", f"/console/season/posting?village={ids['village']}&{y}"),
        ("supervisor", "season: complaints", f"/console/season/complaints?village={ids['village']}&{y}"),
        ("supervisor", "season: decision", f"/console/season/decision?commune={commune}&{y}"),
        ("supervisor", "reports (commune summary)", f"/console/reports?{y}"),
        ("supervisor", "reports, preview", f"/console/reports?{y}&include=unreviewed"),
        ("supervisor", "exports", "/console/exports"),
        ("supervisor", "queue", "/console/submissions"),
        ("supervisor", "queue, filtered", f"/console/submissions?status=received&classification=poor&{y}"),
        ("supervisor", "submission", f"/console/submissions/{ids['submission']}"),
        ("supervisor", "households", "/console/households"),
        ("supervisor", "household", f"/console/households/{ids['household']}"),
        ("supervisor", "conflicts", "/console/conflicts"),
        ("supervisor", "devices", "/console/admin/devices"),
        ("admin", "dashboard (province)", f"/console/dashboard?area={province}&{y}"),
        ("admin", "map (province, first 5,000)", f"/console/map?area={province}&{y}"),
        ("admin", "reports (province summary)", f"/console/reports?area={province}&{y}"),
        ("admin", "season (province's communes)", f"/console/season?{y}"),
        ("admin", "queue (whole country)", "/console/submissions"),
        ("admin", "admin", "/console/admin"),
        ("admin", "users", "/console/admin/users"),
        ("admin", "areas (province)", f"/console/admin/areas?parent={province}"),
        ("admin", "areas (commune)", f"/console/admin/areas?parent={commune}"),
        ("admin", "devices", "/console/admin/devices"),
        ("admin", "forms", "/console/admin/forms"),
        ("admin", "form preview", "/console/admin/forms/household-review/2022.1"),
        ("admin", "parameters", f"/console/admin/parameters?province={province}"),
        ("admin", "audit log", "/console/admin/audit"),
    ]


def run(args) -> dict:
    name = args.reuse or f"rasoat_bench_{secrets.token_hex(5)}"
    db_url = pg_url(args.database_url, name)
    directory = Path(tempfile.mkdtemp(prefix="rasoat-console-bench-"))
    env = {**os.environ, **ENV, "DATABASE_URL": sqlalchemy_url(db_url),
           "RASOAT_INSTANCE_PATH": str(directory / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    if not args.reuse:
        admin(args.database_url, f'CREATE DATABASE "{name}"')
    gunicorn = Gunicorn(env, args.workers, args.threads, directory)
    try:
        subprocess.run([str(BIN / "rasoat"), "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        commune = _first_commune(db_url, args.province)
        if args.reuse:
            data = _describe(db_url)
        else:
            data = generate(db_url, households=args.households, province=args.province,
                            villages_per_commune=args.villages_per_commune, year=YEAR,
                            previous_year=args.previous_year)
            accounts(db_url, commune)
        log(f"data: {data}")
        ids = _ids(db_url, commune)
        gunicorn.start()
        browsers = {"admin": Browser(gunicorn.port), "supervisor": Browser(gunicorn.port)}
        browsers["admin"].log_in("bench-admin")
        browsers["supervisor"].log_in("bench-supervisor")
        results = []
        for who, label, path in pages(args.province, commune, ids):
            runs = []
            status, size = None, 0
            for _ in range(args.repeat):
                status, body, wall = browsers[who].request("GET", path)
                runs.append(wall)
                size = len(body)
            results.append({"who": who, "label": label, "path": path, "status": status, "bytes": size,
                            "first_s": runs[0], "median_s": statistics.median(runs), "max_s": max(runs)})
            log(f"{who} {label}: {status} first {runs[0] * 1000:.0f} ms, median {statistics.median(runs) * 1000:.0f} ms")
        return {"machine": machine(args.database_url), "data": data, "commune": commune,
                "config": {k: getattr(args, k) for k in ("households", "previous_year", "province",
                                                         "villages_per_commune", "repeat", "workers", "threads")},
                "pages": results, "database": db_url if args.keep or args.reuse else None}
    finally:
        gunicorn.stop()
        if not args.keep and not args.reuse:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(directory, ignore_errors=True)


def report(s: dict) -> str:
    m, d, c = s["machine"], s["data"], s["config"]
    lines = [f"machine: {m['nproc']} cpu ({m['cpu']}), {m['ram_gib']} GiB, Python {m['python']}, "
             f"PostgreSQL {m['postgresql']}, {m['date']}",
             f"data: {d['counts']['submissions']:,} submissions {d['counts']['submissions_by_year']}, "
             f"{d['counts']['households']:,} households, {d['villages']:,} villages of province {c['province']}; "
             f"supervisor of commune {s['commune']}",
             f"gunicorn: {c['workers']} worker x {c['threads']} threads; {c['repeat']} GETs per page", "",
             f"{'who':10} {'page':34} {'status':>6} {'first ms':>9} {'median ms':>10} {'max ms':>8} {'KiB':>7}"]
    for r in s["pages"]:
        lines.append(f"{r['who']:10} {r['label']:34} {r['status']:>6} {r['first_s'] * 1000:9.0f} "
                     f"{r['median_s'] * 1000:10.0f} {r['max_s'] * 1000:8.0f} {r['bytes'] / 1024:7.0f}")
    worst = max(s["pages"], key=lambda r: r["median_s"])
    lines.append(f"\nslowest median: {worst['label']} ({worst['who']}) {worst['median_s'] * 1000:.0f} ms; "
                 f"pages over {TARGET_S * 1000:.0f} ms (median): "
                 f"{[r['label'] for r in s['pages'] if r['median_s'] > TARGET_S] or 'none'}")
    if s["database"]:
        lines.append(f"database kept: {s['database']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=160_000)
    parser.add_argument("--previous-year", type=float, default=0.15)
    parser.add_argument("--province", default="01")
    parser.add_argument("--villages-per-commune", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", metavar="DATABASE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    summary = run(args)
    print(json.dumps(summary, indent=2, ensure_ascii=False, default=str) if args.json else report(summary))
    return 1 if any(r["status"] != 200 for r in summary["pages"]) else 0


if __name__ == "__main__":
    sys.exit(main())
