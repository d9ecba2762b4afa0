#!/usr/bin/env python3
"""Dispatch overhead: N no-op jobs (SELECT 1) of one daily occurrence, run by 1 runner and by 3
runner processes (`nightshift run --once` joins a running occurrence), each on a fresh database
of the same throwaway server, in the same go. Figures come from the runner tables (real-time
`recorded_at` of each transition):

  jobs/s            N / (last success - first start)
  ready->started    from the occurrence's creation to the job's start (mostly queueing: all N
                    jobs are ready at once)
  dispatch gap      per runner (1 worker each): from one job's success to its next job's start,
                    i.e. the cost of recording an end, claiming and starting the next job

Usage: bench_dispatch.py NIGHTSHIFT_BINARY ROOT ADMIN_URL [--jobs N]
"""
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

binary, root, admin_url = sys.argv[1], sys.argv[2], sys.argv[3]
jobs = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 2000
AT = "2026-11-23T02:00:00+08:00"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atqc", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def make_project():
    project = tempfile.mkdtemp(prefix="nightshift-bench-")
    for folder in ["etc", "sql", "templates"]:
        shutil.copytree(os.path.join(root, folder), os.path.join(project, folder))
    os.makedirs(os.path.join(project, "jobs"))
    with open(os.path.join(project, "sql/jobs/noop.sql"), "w") as f:
        f.write("SELECT 1\n")
    for i in range(1, jobs + 1):
        with open(os.path.join(project, f"jobs/noop_{i:04d}.yaml"), "w") as f:
            f.write(f"name: noop_{i:04d}\nkind: aggregation\nbatch: daily\npriority: P3\naggregation:\n  sql: jobs/noop.sql\n")
    settings = os.path.join(project, "etc/nightshift.yaml")
    text = open(settings).read().replace("concurrent_jobs: 2 ", "concurrent_jobs: 1 ")
    text = text.replace("max_load_percent: 80 ", "max_load_percent: 10000 ")
    text += "\nrunner:\n  poll_milliseconds: 100\n"
    open(settings, "w").write(text)
    # `run --once` is a person starting work: this account must be a manager (etc/operators.yaml).
    with open(os.path.join(project, "etc/operators.yaml"), "w") as f:
        f.write(f"accounts:\n  {pwd.getpwuid(os.getuid()).pw_name}: director\n")
    return project


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(project, runners):
    name = f"bench_dispatch_{runners}_{os.getpid()}"
    psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
    psql(admin_url, f"CREATE DATABASE {name}")
    url = admin_url.replace("/postgres?", f"/{name}?", 1)
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([binary, "migrate", "--root", project], check=True, env=env, capture_output=True)
    started = time.monotonic()
    procs = [subprocess.Popen([binary, "run", "--once", "--at", AT, "--root", project, "--log-level", "error"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(runners)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"runner failed ({p.returncode}): {err}")
    wall = time.monotonic() - started
    created = float(psql(url, "SELECT extract(epoch FROM min(recorded_at)) FROM nightshift.state_transitions WHERE job_run_id IS NULL")[0][0])
    rows = psql(url, """
        SELECT s.runner, extract(epoch FROM s.recorded_at), extract(epoch FROM e.recorded_at)
        FROM nightshift.state_transitions s
        JOIN nightshift.state_transitions e ON e.job_run_id = s.job_run_id AND e.to_state = 'succeeded'
        WHERE s.to_state = 'running'""")
    succeeded = int(psql(url, "SELECT count(*) FROM nightshift.job_runs WHERE state = 'succeeded'")[0][0])
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if succeeded != jobs or len(rows) != jobs:
        sys.exit(f"expected {jobs} jobs to succeed once each, got {succeeded} succeeded and {len(rows)} starts")
    starts = [float(r[1]) for r in rows]
    ends = [float(r[2]) for r in rows]
    latency = [(s - created) * 1000 for s in starts]
    gaps = []
    by_runner = {}
    for runner, s, e in rows:
        by_runner.setdefault(runner, []).append((float(s), float(e)))
    for pairs in by_runner.values():
        pairs.sort()
        gaps += [(pairs[i][0] - pairs[i - 1][1]) * 1000 for i in range(1, len(pairs))]
    return {
        "runners": runners, "used": len(by_runner), "wall": wall,
        "jobs_per_s": jobs / (max(ends) - min(starts)),
        "lat_p50": percentile(latency, 50), "lat_p99": percentile(latency, 99),
        "gap_p50": percentile(gaps, 50), "gap_p99": percentile(gaps, 99),
    }


project = make_project()
try:
    results = [run(project, 1), run(project, 3)]
finally:
    shutil.rmtree(project, ignore_errors=True)

print(f"dispatch: {jobs} no-op jobs of one occurrence, 1 worker per runner process")
print(f"  {'runners':>7} {'jobs/s':>8} {'ready->started p50':>19} {'p99':>9} {'dispatch gap p50':>17} {'p99':>8} {'wall':>7}")
for r in results:
    print(f"  {r['runners']:>7} {r['jobs_per_s']:>8.0f} {r['lat_p50']:>16.0f} ms {r['lat_p99']:>6.0f} ms"
          f" {r['gap_p50']:>14.1f} ms {r['gap_p99']:>5.1f} ms {r['wall']:>6.1f}s")
one, three = results
print(f"  3 runners vs 1: throughput x{three['jobs_per_s'] / one['jobs_per_s']:.2f}, "
      f"dispatch gap p50 x{three['gap_p50'] / one['gap_p50']:.2f} (claims are serialised by one advisory lock)")
