"""Export benchmark: a form's submissions with their members, streamed through gunicorn.

    .venv/bin/python bench/export_bench.py [--submissions 100000] [--formats csv,xlsx] [--json] [--keep]

1. creates a throwaway database on the PostgreSQL server of ``--database-url`` (default
   127.0.0.1:5432, user postgres) and drops it at the end;
2. ``rasoat init``, then ``bench/bulk_households.py`` makes ``--submissions`` households of
   province 01, each with one visit of the review year (form 2022.1, 3 to 6 members: 4.5 on
   average), by INSERT ... SELECT generate_series (not timed), and VACUUM ANALYZE;
3. for each format, starts a fresh gunicorn (1 worker x 2 gthreads), logs a national admin in, and
   times ``GET /api/v1/forms/household-review/export?format=...&year=2026`` from the request to the
   last byte, the body written to a temporary file as it arrives;
4. reads the worker's peak resident memory (VmHWM in /proc: the whole life of the worker, its
   start included) and PostgreSQL's CPU time during the export;
5. checks the file (not timed): the zip's CSV files (or the workbook's sheets) hold one row per
   submission and one per member, and every member's PARENT_KEY is a submission's KEY.

"rows/s" is submissions per second (the unit of ODK Central's figure, about 1,950/s for its CSV
export on this kind of machine); the member rows written besides are reported too.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_households import generate, log  # noqa: E402
from reports_bench import PASSWORD, _describe, _peak_rss_mib, accounts  # noqa: E402
from sync_load import (BIN, ENV, ROOT, Gunicorn, admin, cpu_since, cpu_ticks, machine,  # noqa: E402
                       machine_busy_ticks, pg_url, postgres_pids, sqlalchemy_url)

YEAR = 2026


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/v1/auth/login", body=orjson.dumps({"username": "bench-admin", "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 200, body[:300]
    return orjson.loads(body)["access_token"]


def export(port: int, token: str, fmt: str, target: Path, workers: list[int]) -> dict:
    tick = os.sysconf("SC_CLK_TCK")
    pg_before, worker_before, busy_before = cpu_ticks(postgres_pids()), cpu_ticks(workers), machine_busy_ticks()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    t0 = time.perf_counter()
    conn.request("GET", f"/api/v1/forms/household-review/export?format={fmt}&year={YEAR}",
                 headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    first, size = None, 0
    with open(target, "wb") as out:
        while chunk := response.read1(1024 * 1024):  # what has arrived: the first byte is the first byte
            if first is None:
                first = time.perf_counter() - t0
            out.write(chunk)
            size += len(chunk)
    wall = time.perf_counter() - t0
    conn.close()
    pg_cpu = cpu_since(pg_before, cpu_ticks(postgres_pids())) / tick
    worker_cpu = cpu_since(worker_before, cpu_ticks(workers)) / tick
    busy = (machine_busy_ticks() - busy_before) / tick
    return {"format": fmt, "status": response.status, "wall_s": wall, "first_byte_s": first or wall,
            "bytes": size, "content_type": response.getheader("Content-Type"), "postgres_cpu_s": pg_cpu,
            "worker_cpu_s": worker_cpu,
            # Everything else the machine ran meanwhile (other users' jobs, this client, the kernel).
            "other_cpu_s": max(0.0, busy - pg_cpu - worker_cpu)}


def check_zip(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        main = _csv_rows(archive, "household-review.csv")
        keys = {row[0] for row in main}
        members = _csv_rows(archive, "household-review-members.csv")
        orphans = sum(1 for row in members if row[1] not in keys)
        uncompressed = sum(i.file_size for i in archive.infolist())
    return {"files": names, "submissions": len(main), "members": len(members), "orphans": orphans,
            "uncompressed_bytes": uncompressed}


def _csv_rows(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    with archive.open(name) as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
        next(reader)
        return [row[:2] for row in reader]


def check_xlsx(path: Path) -> dict:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    main = {row[0] for row in book["household-review"].iter_rows(min_row=2, values_only=True)}
    members = [row[1] for row in book["members"].iter_rows(min_row=2, values_only=True)]
    return {"sheets": book.sheetnames, "submissions": len(main), "members": len(members),
            "orphans": sum(1 for parent in members if parent not in main)}


def run(args) -> dict:
    name = args.reuse or f"rasoat_bench_{secrets.token_hex(5)}"
    db_url = pg_url(args.database_url, name)
    directory = Path(tempfile.mkdtemp(prefix="rasoat-export-bench-"))
    env = {**os.environ, **ENV, "DATABASE_URL": sqlalchemy_url(db_url),
           "RASOAT_INSTANCE_PATH": str(directory / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    if not args.reuse:
        admin(args.database_url, f'CREATE DATABASE "{name}"')
    try:
        t = time.perf_counter()
        subprocess.run([str(BIN / "rasoat"), "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        log(f"setup: database {name}, rasoat init ({time.perf_counter() - t:.1f}s)")
        if args.reuse:
            data = _describe(db_url)
        else:
            data = generate(db_url, households=args.submissions, previous_year=0, earlier_visits=False)
            accounts(db_url, "01-00004")
        log(f"data: {data}")
        runs = []
        for fmt in args.formats.split(","):
            gunicorn = Gunicorn(env, 1, 2, directory)
            try:
                gunicorn.start()
                token = login(gunicorn.port)
                target = directory / f"export.{'zip' if fmt == 'csv' else 'xlsx'}"
                result = export(gunicorn.port, token, fmt, target, gunicorn.worker_pids())
                result["worker_peak_rss_mib"] = _peak_rss_mib(gunicorn.worker_pids())
            finally:
                gunicorn.stop()
            log(f"{fmt}: {result['wall_s']:.1f}s, checking the file")
            result["check"] = check_zip(target) if fmt == "csv" else check_xlsx(target)
            target.unlink()
            result["submissions_per_s"] = result["check"]["submissions"] / result["wall_s"]
            result["all_rows_per_s"] = (result["check"]["submissions"] + result["check"]["members"]) / result["wall_s"]
            runs.append(result)
        return {"machine": machine(args.database_url), "data": data, "submissions": args.submissions, "runs": runs,
                "database": db_url if args.keep or args.reuse else None}
    finally:
        if not args.keep and not args.reuse:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(directory, ignore_errors=True)


def report(s: dict) -> str:
    m, d = s["machine"], s["data"]
    lines = [
        f"machine: {m['nproc']} cpu ({m['cpu']}), {m['ram_gib']} GiB, Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, {m['date']}",
        f"data: {d['counts']['submissions']:,} submissions of province 01 ({d['submissions_size']}), generated in "
        f"{d['seconds']:.0f}s; gunicorn 1 worker x 2 threads, a fresh one per format",
        "",
        f"{'format':6} {'wall s':>8} {'1st byte s':>10} {'submissions/s':>14} {'all rows/s':>11} {'MB sent':>9} "
        f"{'peak RSS MiB':>13} {'CPU s: worker':>14} {'postgres':>9} {'others':>7}  check",
    ]
    for r in s["runs"]:
        c = r["check"]
        lines.append(
            f"{r['format']:6} {r['wall_s']:8.1f} {r['first_byte_s']:10.2f} {r['submissions_per_s']:14,.0f} "
            f"{r['all_rows_per_s']:11,.0f} {r['bytes'] / 1e6:9.1f} {r['worker_peak_rss_mib'] or 0:13.0f} "
            f"{r['worker_cpu_s']:14.1f} {r['postgres_cpu_s']:9.1f} {r['other_cpu_s']:7.1f}  "
            f"{c['submissions']:,} submissions, {c['members']:,} members, "
            f"{c['orphans']} orphans" + (f", {c['uncompressed_bytes'] / 1e6:.0f} MB uncompressed"
                                         if "uncompressed_bytes" in c else "")
            + ("" if r["status"] == 200 else f"  STATUS {r['status']}"))
    if s["database"]:
        lines.append(f"database kept: {s['database']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", metavar="DATABASE", help="export from a database a --keep run left (kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    summary = run(args)
    print(json.dumps(summary, indent=2, ensure_ascii=False, default=str) if args.json else report(summary))
    ok = all(r["status"] == 200 and r["check"]["submissions"] == args.submissions and not r["check"]["orphans"]
             for r in summary["runs"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
