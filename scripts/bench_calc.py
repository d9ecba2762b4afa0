#!/usr/bin/env python3
"""The checkpointed calculation against its obvious alternatives, same rows, same server, same run.

For each size (a business date holding that many delivered deliveries), each method computes the
same delivery charges (VAT, net, deposit due, driver commission: sql/jobs/delivery_charges/) from
an empty slate, `--repeat` times, interleaved (A B C, A B C, ...):

  INSERT…SELECT   one statement for the whole day: the floor, no checkpoint, one transaction
  procedure       a PL/pgSQL procedure committing every 1000 rows with a checkpoint row, all on the
                  server (no round trips): what a DBA would write
  nightshift      `nightshift run --once` of a batch holding only delivery_charges: chunks of 1000
                  staged through its BATCH_TEMP_* table, each committed with its checkpoint and the
                  lease fence (also shown: the job alone, from its recorded start and finish)

Figures: wall time and the ratios (medians of per-round ratios). Target: nightshift <= 1.1x the
procedure.

Usage: bench_calc.py NIGHTSHIFT_BINARY ROOT ADMIN_URL [--rows 100000,1000000] [--repeat 3]
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
DB = f"bench_calc_{os.getpid()}"
url = admin_url.replace("/postgres?", f"/{DB}?", 1)


def psql(sql, target=None):
    return bench_common.psql(sql, target or url)


timed = bench_common.timed


def make_project():
    """A project whose daily batch is only delivery_charges (its checks off: the others check nothing)."""
    project = bench_common.project_copy(root, "nightshift-bench-calc-")
    job = open(os.path.join(root, "jobs/delivery_charges.yaml")).read()
    job = job[:job.index("  # Checked after")] if "  # Checked after" in job else job
    open(os.path.join(project, "jobs/delivery_charges.yaml"), "w").write(job)
    settings = os.path.join(project, "etc/nightshift.yaml")
    text = open(settings).read().replace("max_load_percent: 80 ", "max_load_percent: 10000 ")
    open(settings, "w").write(text)
    return project


def fill(date, rows, offset):
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
        INSERT INTO erp.cylinder_movements (id, delivery_id, customer_id, product_id, direction, quantity, moved_at)
        SELECT d.id * 2 + k, d.id, d.customer_id, d.product_id, CASE k WHEN 0 THEN 'out' ELSE 'in' END, d.quantity, d.delivered_at
        FROM erp.deliveries d CROSS JOIN (VALUES (0), (1)) AS dir(k) WHERE d.id > {offset} AND d.id <= {offset} + {rows};
    """)


def stage_select():
    """stage.sql's SELECT for the whole day: no after_key, no LIMIT."""
    stage = open(os.path.join(root, "sql/jobs/delivery_charges/stage.sql")).read()
    body = stage[stage.index("SELECT d.id"):]
    body = "\n".join(line for line in body.splitlines() if "after_key" not in line and "chunk_size" not in line)
    return body.replace("ORDER BY d.id", "")


UPSERT = """ON CONFLICT (delivery_id) DO UPDATE
SET business_date = EXCLUDED.business_date, gross = EXCLUDED.gross, vat = EXCLUDED.vat, net = EXCLUDED.net,
    deposit_due = EXCLUDED.deposit_due, driver_commission = EXCLUDED.driver_commission, computed_at = EXCLUDED.computed_at"""


def main():
    psql(f"DROP DATABASE IF EXISTS {DB}", admin_url)
    psql(f"CREATE DATABASE {DB}", admin_url)
    env = dict(os.environ, DATABASE_URL=url)
    project = make_project()
    for step in (["migrate"], ["seed", "--customers", "20000", "--days", "1", "--until", "2026-11-01"]):
        done = subprocess.run([binary, *step, "--root", project], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"nightshift {step[0]} failed: {done.stdout}{done.stderr}")
    select = stage_select()
    psql("CREATE TABLE public.bench_checkpoint (job text PRIMARY KEY, last_key bigint NOT NULL, rows_done bigint NOT NULL)")
    # The server-side alternative: the same chunks of 1000 in key order, each committed with its checkpoint.
    psql(f"""
        CREATE PROCEDURE public.bench_charges(day date, chunk int) LANGUAGE plpgsql AS $proc$
        DECLARE last bigint := 0; n bigint; top bigint;
        BEGIN
            PERFORM set_config('nightshift.business_date', day::text, false);
            INSERT INTO public.bench_checkpoint VALUES ('charges', 0, 0) ON CONFLICT (job) DO UPDATE SET last_key = 0, rows_done = 0;
            COMMIT;
            LOOP
                PERFORM set_config('nightshift.business_date', day::text, false);
                WITH chunk AS (
                    INSERT INTO erp.delivery_charges (delivery_id, business_date, gross, vat, net, deposit_due, driver_commission, computed_at)
                    SELECT s.*, now() FROM (SELECT x.id, day, x.gross, x.vat, x.net, x.deposit_due, x.commission FROM (
                        {select.replace("SELECT d.id,", "SELECT d.id AS id,", 1).replace("d.amount,", "d.amount AS gross,", 1)
                               .replace("round(d.amount * 5 / 105, 0),", "round(d.amount * 5 / 105, 0) AS vat,", 1)
                               .replace("d.amount - round(d.amount * 5 / 105, 0),", "d.amount - round(d.amount * 5 / 105, 0) AS net,", 1)
                               .replace("FROM erp.cylinder_movements m WHERE m.delivery_id = d.id), 0),", "FROM erp.cylinder_movements m WHERE m.delivery_id = d.id), 0) AS deposit_due,", 1)
                               .replace("round(d.quantity * p.size_kg * 1.5, 2)", "round(d.quantity * p.size_kg * 1.5, 2) AS commission", 1)}
                          AND d.id > last ORDER BY d.id LIMIT chunk) x) s
                    {UPSERT}
                    RETURNING delivery_id)
                SELECT count(*), max(delivery_id) INTO n, top FROM chunk;
                EXIT WHEN n = 0;
                last := top;
                UPDATE public.bench_checkpoint SET last_key = last, rows_done = rows_done + n WHERE job = 'charges';
                COMMIT;
            END LOOP;
            COMMIT;
        END $proc$
    """)
    print(f"calculation benchmark: {os.cpu_count()} cores, repeat {repeat}, chunks of 1000")
    for i, rows in enumerate(sizes):
        date = f"2026-11-{10 + i:02d}"
        at = f"2026-11-{11 + i:02d}T02:00:00+08:00"
        t0 = time.monotonic()
        fill(date, rows, 1_000_000_000 * (i + 1))
        psql("VACUUM ANALYZE")
        print(f"\n{rows:,} delivered deliveries on {date} (generated in {time.monotonic() - t0:.0f} s)")
        one = (f"SET nightshift.business_date = '{date}'; SET nightshift.time_zone = 'Asia/Taipei'; "
               f"INSERT INTO erp.delivery_charges (delivery_id, gross, vat, net, deposit_due, driver_commission, business_date, computed_at) "
               f"SELECT *, '{date}'::date, now() FROM ({select}) s {UPSERT}")
        methods = {
            "INSERT…SELECT": ["psql", url, "-X", "-v", "ON_ERROR_STOP=1", "-qc", one],
            "procedure": ["psql", url, "-X", "-v", "ON_ERROR_STOP=1", "-qc", f"CALL public.bench_charges('{date}', 1000)"],
            "nightshift": [binary, "run", "--once", "--rerun", "--at", at, "--root", project, "--log-level", "error"],
        }
        results = {name: [] for name in [*methods, "nightshift job"]}
        for _ in range(repeat):
            for name, argv in methods.items():
                psql(f"DELETE FROM erp.delivery_charges WHERE business_date = '{date}'")
                psql("VACUUM erp.delivery_charges")
                results[name].append(timed(argv, env=env)[0])
                if name == "nightshift":
                    # The job alone, without the process's start (configuration, migrations check, registration).
                    results["nightshift job"].append(float(psql(
                        "SELECT extract(epoch FROM finished_at - started_at) FROM nightshift.job_runs "
                        "WHERE job = 'delivery_charges' ORDER BY id DESC LIMIT 1")[0][0]))
                charged = int(psql(f"SELECT count(*) FROM erp.delivery_charges WHERE business_date = '{date}'")[0][0])
                if charged != rows:
                    sys.exit(f"{name} charged {charged} deliveries, expected {rows}")
        print(f"  {'method':<16} {'wall s':>8} {'µs/row':>8}")
        for name, runs in results.items():
            wall = statistics.median(runs)
            print(f"  {name:<16} {wall:8.2f} {wall / rows * 1e6:8.2f}")

        def ratio(a, b):
            return statistics.median(x / y for x, y in zip(results[a], results[b]))
        print(f"  nightshift / procedure {ratio('nightshift', 'procedure'):.2f} (target <= 1.1; the job alone "
              f"{ratio('nightshift job', 'procedure'):.2f}); "
              f"nightshift / INSERT…SELECT {ratio('nightshift', 'INSERT…SELECT'):.2f}; "
              f"procedure / INSERT…SELECT {ratio('procedure', 'INSERT…SELECT'):.2f}")
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", admin_url)
    shutil.rmtree(project, ignore_errors=True)


main()
