#!/usr/bin/env python3
"""The archive job against the obvious manual way, same rows, same server, same run.

For each size (that many settled deliveries older than two years, each with a payment, an invoice
and two cylinder movements), each method moves them out of the database and back in between
rounds (a restore of the manual dump), `--repeat` times, interleaved:

  manual       psql \\copy of each table (children, then deliveries) | zstd -3 | gpg --encrypt, then
               one transaction deleting them: no verification, no catalog, one big transaction
  nightshift   `nightshift run --once` of the weekly batch holding only archive_old_deliveries:
               chunks of 10,000 deliveries, each written, read back and decrypted, deleted and
               catalogued in its own transaction

Figures: wall time, client CPU (the process and its reaped children: psql, zstd, gpg), peak RSS of
the largest client process. RSS shows whether memory stays flat as rows grow.

Usage: bench_archive.py NIGHTSHIFT_BINARY ROOT ADMIN_URL [--rows 100000,1000000] [--repeat 2]
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
repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 2
DB = f"bench_archive_{os.getpid()}"
url = admin_url.replace("/postgres?", f"/{DB}?", 1)
TABLES = ["erp.payments", "erp.invoices", "erp.cylinder_movements", "erp.delivery_charges", "erp.deliveries"]


def psql(sql, target=None):
    return bench_common.psql(sql, target or url)


timed = bench_common.timed


def make_project(keyring):
    project = bench_common.project_copy(root, "nightshift-bench-archive-")
    shutil.copy(os.path.join(root, "jobs/archive_old_deliveries.yaml"), os.path.join(project, "jobs"))
    settings = os.path.join(project, "etc/nightshift.yaml")
    text = open(settings).read()
    text = text.replace("keyring: var/gnupg", f"keyring: {keyring}").replace("recipient: exports@luckygas.example",
                                                                             "recipient: bench@luckygas.test")
    text = re.sub(r"\n  signing_key: .*", "", text).replace("max_load_percent: 80 ", "max_load_percent: 10000 ")
    open(settings, "w").write(text)
    return project


def fill(rows, offset):
    """`rows` settled deliveries in June 2023 (past the 2-year retention), with their children."""
    psql(f"""
        CREATE TEMP TABLE c AS SELECT row_number() OVER (ORDER BY id) AS n, id, branch_id FROM erp.customers;
        INSERT INTO erp.orders (id, customer_id, branch_id, product_id, quantity, channel, ordered_at, order_date)
        SELECT {offset} + g, c.id, c.branch_id, 1 + g % 5, 1 + g % 3, 'phone', date '2023-06-01' + g % 28 + time '09:00',
               date '2023-06-01' + g % 28
        FROM generate_series(1, {rows}) g JOIN c ON c.n = 1 + g % (SELECT count(*) FROM c);
        INSERT INTO erp.deliveries (id, order_id, branch_id, customer_id, product_id, quantity, unit_price, amount, driver_id,
                                    delivered_at, delivery_date, status)
        SELECT o.id, o.id, o.branch_id, o.customer_id, o.product_id, o.quantity, p.unit_price, o.quantity * p.unit_price,
               1 + o.id % 40, o.ordered_at + interval '2 hours', o.order_date, 'delivered'
        FROM erp.orders o JOIN erp.products p ON p.id = o.product_id WHERE o.id > {offset} AND o.id <= {offset} + {rows};
        INSERT INTO erp.payments (id, delivery_id, customer_id, method, amount, paid_at)
        SELECT d.id, d.id, d.customer_id, 'cash', d.amount, d.delivered_at FROM erp.deliveries d WHERE d.id > {offset};
        INSERT INTO erp.invoices (id, invoice_no, delivery_id, customer_id, issued_on, amount, tax)
        SELECT d.id, 'ZZ' || lpad((d.id % 100000000)::text, 8, '0'), d.id, d.customer_id, d.delivery_date, d.amount, round(d.amount * 5 / 105, 0)
        FROM erp.deliveries d WHERE d.id > {offset};
        INSERT INTO erp.cylinder_movements (id, delivery_id, customer_id, product_id, direction, quantity, moved_at)
        SELECT d.id * 2 + k, d.id, d.customer_id, d.product_id, CASE k WHEN 0 THEN 'out' ELSE 'in' END, d.quantity, d.delivered_at
        FROM erp.deliveries d CROSS JOIN (VALUES (0), (1)) AS dir(k) WHERE d.id > {offset};
    """)


def main():
    work = tempfile.mkdtemp(prefix="nightshift-bench-archive-out-")
    keyring = os.path.join(work, "gnupg")
    os.makedirs(keyring, mode=0o700)
    subprocess.run(["gpg", "--homedir", keyring, "--batch", "--passphrase", "", "--pinentry-mode", "loopback",
                    "--quick-gen-key", "Bench <bench@luckygas.test>", "default", "default", "never"],
                   check=True, capture_output=True)
    psql(f"DROP DATABASE IF EXISTS {DB}", admin_url)
    psql(f"CREATE DATABASE {DB}", admin_url)
    env = dict(os.environ, DATABASE_URL=url)
    project = make_project(keyring)
    for step in (["migrate"], ["seed", "--customers", "20000", "--days", "1", "--until", "2026-11-01"]):
        done = subprocess.run([binary, *step, "--root", project], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"nightshift {step[0]} failed: {done.stdout}{done.stderr}")
    # Only the bench's rows are due: the seed's own old week is settled away first.
    subprocess.run([binary, "run", "--once", "--batch", "weekly", "--at", "2026-11-08T01:00:00+08:00", "--root", project,
                    "--log-level", "error"], env=env, capture_output=True, check=True)
    gpg = f"gpg --homedir {keyring} --batch --yes --trust-model always --compress-algo none -r bench@luckygas.test -e"
    print(f"archive benchmark: {os.cpu_count()} cores, repeat {repeat}; CPU = client processes only")
    for i, rows in enumerate(sizes):
        offset = 5_000_000_000 * (i + 1)
        t0 = time.monotonic()
        fill(rows, offset)
        psql("VACUUM ANALYZE")
        print(f"\n{rows:,} settled deliveries from June 2023, with {4 * rows:,} child rows (generated in {time.monotonic() - t0:.0f} s)")
        due = f"SELECT id FROM erp.deliveries WHERE id > {offset}"
        dumps = "; ".join(
            f"psql '{url}' -Xq -c \"\\copy (SELECT * FROM {t} WHERE {'id' if t == 'erp.deliveries' else 'delivery_id'} IN ({due})) to stdout\""
            f" | zstd -q -3 | {gpg} -o {work}/{t}.zst.gpg" for t in TABLES)
        deletes = " ".join(f"DELETE FROM {t} WHERE {'id' if t == 'erp.deliveries' else 'delivery_id'} IN ({due});" for t in TABLES)
        manual = f"set -o pipefail; {dumps}; psql '{url}' -Xq -v ON_ERROR_STOP=1 -1 -c \"{deletes}\""
        results = {"manual": [], "nightshift": []}
        for r in range(repeat):
            for name in results:
                # The rows back (from a plain copy kept aside) before each method.
                if r > 0 or name != "manual":
                    for t in reversed(TABLES):
                        psql(f"INSERT INTO {t} SELECT * FROM public.{t.split('.')[1]}_copy")
                else:
                    for t in TABLES:
                        key = 'id' if t == 'erp.deliveries' else 'delivery_id'
                        psql(f"DROP TABLE IF EXISTS public.{t.split('.')[1]}_copy")
                        psql(f"CREATE TABLE public.{t.split('.')[1]}_copy AS SELECT * FROM {t} WHERE {key} IN ({due})")
                psql("DELETE FROM erp.cylinder_opening_balance")
                psql("VACUUM ANALYZE erp.deliveries")
                if name == "manual":
                    results[name].append(timed(manual, env=env, shell=True))
                else:
                    results[name].append(timed([binary, "run", "--once", "--rerun", "--batch", "weekly", "--at",
                                                "2026-11-15T01:00:00+08:00", "--root", project, "--log-level", "error"], env=env))
                left = int(psql(f"SELECT count(*) FROM erp.deliveries WHERE id > {offset}")[0][0])
                if left != 0:
                    sys.exit(f"{name} left {left} of the {rows} due deliveries")
        archived = int(psql(f"SELECT coalesce(sum(rows), 0) FROM nightshift.archive_catalog WHERE first_key::bigint > {offset}")[0][0])
        if archived != rows * repeat:
            sys.exit(f"the catalog holds {archived} archived deliveries, expected {rows * repeat}")
        print(f"  {'method':<12} {'wall s':>8} {'CPU s':>8} {'RSS MiB':>8}")
        for name, runs in results.items():
            print(f"  {name:<12} {statistics.median(r[0] for r in runs):8.2f} {statistics.median(r[1] for r in runs):8.2f} "
                  f"{max(r[2] for r in runs):8.0f}")
        ratio = statistics.median(x[0] / y[0] for x, y in zip(results["nightshift"], results["manual"]))
        print(f"  wall: nightshift / manual {ratio:.2f} (nightshift also decrypts and checks every archive before deleting)")
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", admin_url)
    subprocess.run(["gpgconf", "--homedir", keyring, "--kill", "gpg-agent"], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(project, ignore_errors=True)


main()
