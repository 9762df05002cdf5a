"""The field app's shell: how much a phone downloads to install it, and how fast it starts
offline once installed. Targets (issue 9): under 300 KB compressed; a warm start offline under 1 s.

    .venv/bin/python bench/field_app_bench.py [--starts 10] [--throttle 1]

1. *Size*: every file the service worker precaches (the list served in /app/sw.js), plus sw.js
   itself, fetched from a real gunicorn and compressed one by one with gzip -9 (what a reverse
   proxy or the browser cache would hold; the transfer is per file), and with Brotli-like
   zlib level 9 on the concatenation for reference.
2. *Warm start offline*: a phone that logged in and synced once (service worker installed, forms
   downloaded), with the network off (Playwright ``set_offline``), reloads the app `--starts`
   times. Measured in the page: from navigation start to the first usable screen (the "Mở khóa"
   form, `window.rasoatReadyAt`), and separately from the PIN's submit to the household list
   drawn (PBKDF2-SHA-256 with 600,000 iterations, then decrypting the lists), because the
   enumerator waits for both. `--throttle 4` slows the CPU as on a cheap phone
   (CDP ``Emulation.setCPUThrottlingRate``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from support.field_app import ENUMERATOR, PIN, Phone, launch  # noqa: E402
from support.live import LiveServer, fresh_database  # noqa: E402


def shell_size(live: LiveServer) -> dict:
    worker = live.request("GET", "/app/sw.js").body
    files = json.loads(re.search(rb"^const SHELL_FILES = (\[.*\]);$", worker, re.M).group(1))
    raw = gz = 0
    blobs = [worker]
    rows = []
    for url in files:
        body = live.request("GET", url).body
        blobs.append(body)
        rows.append((url, len(body), len(gzip.compress(body, 9))))
    rows.append(("/app/sw.js", len(worker), len(gzip.compress(worker, 9))))
    raw = sum(r[1] for r in rows)
    gz = sum(r[2] for r in rows)
    whole = len(zlib.compress(b"".join(blobs), 9))
    biggest = sorted(rows, key=lambda r: -r[2])[:8]
    return {"files": len(rows), "raw_bytes": raw, "gzip_bytes_per_file": gz, "zlib_whole_bytes": whole,
            "biggest_gzip": [{"url": u, "raw": r, "gzip": g} for u, r, g in biggest]}


def warm_starts(live: LiveServer, starts: int, throttle: float) -> dict:
    ready, unlock, modules, document = [], [], [], []
    with sync_playwright() as p:
        browser = launch(p)
        phone = Phone(browser, live.url)
        try:
            page = phone.open()
            phone.log_in(*ENUMERATOR)
            phone.wait_synced()
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30000)
            phone.offline(True)
            cdp = phone.context.new_cdp_session(page)
            if throttle != 1:
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
            for _ in range(starts):
                page.reload()
                page.wait_for_function("() => window.rasoatReadyAt !== undefined", timeout=30000)
                ready.append(page.evaluate("window.rasoatReadyAt"))
                modules.append(page.evaluate("window.rasoatModulesAt"))
                document.append(page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd"))
                page.locator("input[name=pin]").fill(PIN)
                t0 = time.perf_counter()
                page.get_by_role("button", name="Mở khóa").click()
                expect(page.locator("nav.tabs .tab-count").first).to_be_visible(timeout=30000)
                unlock.append((time.perf_counter() - t0) * 1000)
            if throttle != 1:
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        finally:
            phone.close()
            browser.close()

    def summary(values):
        return {"median_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1),
                "min_ms": round(min(values), 1), "n": len(values)}

    return {"throttle": throttle, "to_first_screen": summary(ready), "unlock_to_list": summary(unlock),
            "of_which_page_from_worker": summary(document), "of_which_modules_loaded": summary(modules)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--throttle", type=float, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, fresh_database(None, Path(folder)) as url:
        live = LiveServer(url, workers=1, env={"RASOAT_DEMO": "1"})
        live.cli("init")
        live.cli("demo")
        with live:
            size = shell_size(live)
            starts = warm_starts(live, args.starts, args.throttle)
    print(json.dumps({"size": size, "warm_start_offline": starts}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
