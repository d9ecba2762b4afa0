"""What the benchmark scripts share: psql, a timed client run, and a throwaway project copy."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time


def psql(sql, target):
    """Runs `sql` with psql against `target`; returns the rows as lists of strings."""
    out = subprocess.run(["psql", target, "-X", "-v", "ON_ERROR_STOP=1", "-Atqc", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def timed(argv, env=None, shell=False):
    """Runs a command; returns (wall seconds, client CPU seconds, peak RSS MiB). CPU counts the
    process and its reaped children (a shell pipeline's psql, gzip, gpg…)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, shell=shell, executable="/bin/bash" if shell else None,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {argv}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def project_copy(root, prefix):
    """etc/, sql/ and templates/ of the repository in a temporary directory with an empty jobs/,
    and this account as a director."""
    project = tempfile.mkdtemp(prefix=prefix)
    for folder in ["etc", "sql", "templates"]:
        shutil.copytree(os.path.join(root, folder), os.path.join(project, folder))
    os.makedirs(os.path.join(project, "jobs"))
    with open(os.path.join(project, "etc/operators.yaml"), "w") as f:
        f.write(f"accounts:\n  {pwd.getpwuid(os.getuid()).pw_name}: director\n")
    return project
