#!/usr/bin/env python3
"""The export against its obvious alternatives, same rows, same server, same run.

For each size (a business date holding that many deliveries, with their charges), each method
runs `--repeat` times, interleaved (A B C D E, A B C D E, ...) so that drift of this machine's
speed hits all of them alike:

  bare COPY      psql \\copy (the export query) to a file: the floor, no compression, no crypto
  gzip pipeline  psql \\copy | gzip -6 | gpg --encrypt --compress-algo none
  zstd pipeline  psql \\copy | zstd -3 | gpg --encrypt --compress-algo none
  nightshift zip      `nightshift run --once` of a batch holding only the export job (zip parts, one COPY)
  nightshift zip keyset  the same read one keyset query per part (`export.key`)
  nightshift tar.zst  the same with `format: tar.zst`

Figures: wall time, client CPU (user + system of every client process, gpg included: wait4 of
the process or shell pipeline, which counts its reaped children), peak RSS of the largest
client process. Ratios are medians of per-round ratios.

Usage: bench_export.py NIGHTSHIFT_BINARY ROOT ADMIN_URL [--rows 100000,1000000] [--repeat 3]
"""
import os

import bench_common
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

binary, root, admin_url = sys.argv[1], sys.argv[2], sys.argv[3]
args = sys.argv[4:]
sizes = [int(x) for x in (args[args.index("--rows") + 1] if "--rows" in args else "100000,1000000").split(",")]
repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 3
threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 2
DB = f"bench_export_{os.getpid()}"
url = admin_url.replace("/postgres?", f"/{DB}?", 1)


def psql(sql, target=None):
    return bench_common.psql(sql, target or url)


timed = bench_common.timed


def make_project(keyring, fmt, keyset=False):
    project = bench_common.project_copy(root, "nightshift-bench-export-")
    job = open(os.path.join(root, "jobs/daily_delivery_export.yaml")).read()
    job = re.sub(r"depends_on: .*\n", "", job).replace("format: zip", f"format: {fmt}")
    if not keyset:
        # One COPY of the whole day, sorted by the server, cut into parts as it streams.
        pass
    else:
        # Keyset parts: the query runs once per part after the last key.
        job = job.replace("  rows_per_file:", "  key: delivery_id\n  rows_per_file:")
        path = os.path.join(project, "sql/jobs/daily_delivery_export.sql")
        query = open(path).read().replace("ORDER BY d.id", "  AND d.id > nightshift.after_key()\nORDER BY d.id\nLIMIT nightshift.chunk_size()")
        open(path, "w").write(query)
    open(os.path.join(project, "jobs/daily_delivery_export.yaml"), "w").write(job)
    settings = os.path.join(project, "etc/nightshift.yaml")
    text = open(settings).read()
    text = text.replace("keyring: var/gnupg", f"keyring: {keyring}").replace("recipient: exports@luckygas.example",
                                                                             "recipient: bench@luckygas.test")
    text = re.sub(r"\n  threads: \d+", f"\n  threads: {threads}", text)
    text = text.replace("max_load_percent: 80 ", "max_load_percent: 10000 ")
    open(settings, "w").write(text)
    return project


def make_report_project(keyring):
    """A project whose daily batch is only the delivery register (report: Big5 CSV, gzip, split,
    customer data: OpenPGP-encrypted as it is written)."""
    project = bench_common.project_copy(root, "nightshift-bench-report-")
    job = open(os.path.join(root, "jobs/delivery_register.yaml")).read()
    job = re.sub(r"depends_on: .*\n", "", job).replace("priority: P4", "priority: P3")
    open(os.path.join(project, "jobs/delivery_register.yaml"), "w").write(job)
    settings = os.path.join(project, "etc/nightshift.yaml")
    text = open(settings).read().replace("max_load_percent: 80 ", "max_load_percent: 10000 ")
    text = text.replace("keyring: var/gnupg", f"keyring: {keyring}").replace("recipient: exports@luckygas.example",
                                                                             "recipient: bench@luckygas.test")
    text = re.sub(r"\n  signing_key: .*", "", text)
    open(settings, "w").write(text)
    return project


def fill(date, rows, offset):
    """`rows` delivered deliveries (and their orders and charges) on `date`, ids from `offset`."""
    psql(f"""
        CREATE TEMP TABLE c AS SELECT row_number() OVER (ORDER BY id) AS n, id, branch_id FROM erp.customers;
        INSERT INTO erp.orders (id, customer_id, branch_id, product_id, quantity, channel, ordered_at, order_date)
        SELECT {offset} + g, c.id, c.branch_id, 1 + g % 5, 1 + g % 3, 'phone', '{date}'::date - 1 + time '09:00', '{date}'::date - 1
        FROM generate_series(1, {rows}) g JOIN c ON c.n = 1 + g % (SELECT count(*) FROM c);
        INSERT INTO erp.deliveries (id, order_id, branch_id, customer_id, product_id, quantity, unit_price, amount, driver_id,
                                    delivered_at, delivery_date, status)
        SELECT o.id, o.id, o.branch_id, o.customer_id, o.product_id, o.quantity, p.unit_price, o.quantity * p.unit_price,
               1 + o.id % 40, '{date}'::date + time '08:00' + (o.id % 36000) * interval '1 second', '{date}', 'delivered'
        FROM erp.orders o JOIN erp.products p ON p.id = o.product_id WHERE o.id > {offset} AND o.id <= {offset} + {rows};
        INSERT INTO erp.delivery_charges (delivery_id, business_date, gross, vat, net, deposit_due, driver_commission, computed_at)
        SELECT d.id, d.delivery_date, d.amount, round(d.amount * 5 / 105, 0), d.amount - round(d.amount * 5 / 105, 0),
               0, round(d.quantity * p.size_kg * 1.5, 2), now()
        FROM erp.deliveries d JOIN erp.products p ON p.id = d.product_id WHERE d.id > {offset} AND d.id <= {offset} + {rows};
    """)


def main():
    work = tempfile.mkdtemp(prefix="nightshift-bench-export-out-")
    keyring = os.path.join(work, "gnupg")
    os.makedirs(keyring, mode=0o700)
    subprocess.run(["gpg", "--homedir", keyring, "--batch", "--passphrase", "", "--pinentry-mode", "loopback",
                    "--quick-gen-key", "Bench <bench@luckygas.test>", "default", "default", "never"],
                   check=True, capture_output=True)
    psql(f"DROP DATABASE IF EXISTS {DB}", admin_url)
    psql(f"CREATE DATABASE {DB}", admin_url)
    env = dict(os.environ, DATABASE_URL=url)
    projects = {fmt: make_project(keyring, fmt) for fmt in ["zip", "tar.zst"]}
    projects["zip, keyset"] = make_project(keyring, "zip", keyset=True)
    projects["report"] = make_report_project(keyring)
    for step in (["migrate"], ["seed", "--customers", "20000", "--days", "1", "--until", "2026-11-01"]):
        done = subprocess.run([binary, *step, "--root", projects["zip"]], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"nightshift {step[0]} failed: {done.stdout}{done.stderr}")
    query = open(os.path.join(root, "sql/jobs/daily_delivery_export.sql")).read()
    # The obvious query: the whole day sorted by key (no keyset parts).
    obvious = "\n".join(line for line in query.splitlines()
                        if "after_key" not in line and "chunk_size" not in line and not line.lstrip().startswith("--"))
    obvious = " ".join(obvious.split()).rstrip(";")
    print(f"export benchmark: {threads} packing threads, {os.cpu_count()} cores, repeat {repeat}; "
          "CPU = client processes only (the server runs on the same cores)")
    for i, rows in enumerate(sizes):
        date = f"2026-11-{10 + i:02d}"
        at = f"2026-11-{11 + i:02d}T02:00:00+08:00"
        t0 = time.monotonic()
        fill(date, rows, 1_000_000_000 * (i + 1))
        psql("VACUUM ANALYZE")
        print(f"\n{rows:,} rows on {date} (generated in {time.monotonic() - t0:.0f} s)")
        setting = f"SET nightshift.business_date = '{date}'; SET nightshift.time_zone = 'Asia/Taipei';"
        copy = f"\\copy ({obvious}) to stdout with (format csv, header)"
        gpg = f"gpg --homedir {keyring} --batch --yes --trust-model always --compress-algo none -r bench@luckygas.test -e"
        methods = {
            "bare COPY": (f"psql '{url}' -Xq -c \"{setting}\" -c \"{copy}\" > {work}/bare.csv", True),
            "gzip -6 | gpg": (f"set -o pipefail; psql '{url}' -Xq -c \"{setting}\" -c \"{copy}\" | gzip -6 | {gpg} -o {work}/p.csv.gz.gpg", True),
            "zstd -3 | gpg": (f"set -o pipefail; psql '{url}' -Xq -c \"{setting}\" -c \"{copy}\" | zstd -q -3 | {gpg} -o {work}/p.csv.zst.gpg", True),
            "nightshift zip": ([binary, "run", "--once", "--rerun", "--at", at, "--root", projects["zip"], "--log-level", "error"], False),
            "nightshift zip keyset": ([binary, "run", "--once", "--rerun", "--at", at, "--root", projects["zip, keyset"], "--log-level", "error"], False),
            "report csv.gz.gpg": ([binary, "run", "--once", "--rerun", "--at", at, "--root", projects["report"], "--log-level", "error"], False),
            "nightshift tar.zst": ([binary, "run", "--once", "--rerun", "--at", at, "--root", projects["tar.zst"], "--log-level", "error"], False),
        }
        results = {name: [] for name in methods}
        for _ in range(repeat):
            for name, (argv, shell) in methods.items():
                results[name].append(timed(argv, env=env, shell=shell))
        exported = int(psql(f"SELECT sum(j.rows_processed) FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id "
                            f"WHERE b.business_date = '{date}' AND j.state = 'succeeded' AND j.job = 'daily_delivery_export'")[0][0] or 0)
        if exported != rows * 3 * repeat:
            sys.exit(f"nightshift exported {exported} rows in {3 * repeat} runs, expected {rows} each")
        reported = int(psql(f"SELECT count(*) FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id "
                            f"WHERE b.business_date = '{date}' AND j.state = 'succeeded' AND j.job = 'delivery_register'")[0][0] or 0)
        if reported != repeat:
            sys.exit(f"the delivery register succeeded {reported} times in {repeat} runs")
        print(f"  {'method':<20} {'wall s':>8} {'CPU s':>8} {'CPU µs/row':>11} {'RSS MiB':>8}")
        for name, runs in results.items():
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            rss = max(r[2] for r in runs)
            print(f"  {name:<20} {wall:8.2f} {cpu:8.2f} {cpu / rows * 1e6:11.2f} {rss:8.0f}")

        def ratio(a, b, k):
            return statistics.median(x[k] / y[k] for x, y in zip(results[a], results[b]))
        print(f"  wall: zip / bare COPY {ratio('nightshift zip', 'bare COPY', 0):.2f} (target <= 1.3); "
              f"gzip pipeline / zip {ratio('gzip -6 | gpg', 'nightshift zip', 0):.2f} (target >= 1.5); "
              f"tar.zst / zstd pipeline {ratio('nightshift tar.zst', 'zstd -3 | gpg', 0):.2f} (target <= 1.1)")
        print(f"  keyset parts / one sorted COPY (zip): {ratio('nightshift zip keyset', 'nightshift zip', 0):.2f}")
        print(f"  encrypted Big5 report / gzip pipeline: wall {ratio('report csv.gz.gpg', 'gzip -6 | gpg', 0):.2f}, "
              f"client CPU {ratio('report csv.gz.gpg', 'gzip -6 | gpg', 1):.2f}")
        print(f"  client CPU: zip / gzip pipeline {ratio('nightshift zip', 'gzip -6 | gpg', 1):.2f} (target <= 0.8); "
              f"tar.zst / zstd pipeline {ratio('nightshift tar.zst', 'zstd -3 | gpg', 1):.2f}")
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", admin_url)
    subprocess.run(["gpgconf", "--homedir", keyring, "--kill", "gpg-agent"], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
    for project in projects.values():
        shutil.rmtree(project, ignore_errors=True)


main()
