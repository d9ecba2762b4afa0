#!/usr/bin/env python3
"""scripts/bench delivery: NightShift's SFTP delivery (libcurl through CurlClients.SFTPClient, as the
delivery sender does it: one connection per target, each file uploaded under a temporary name,
renamed, and its remote size checked) against `curl -T` of the same files to the same real OpenSSH
sftp server on loopback (scripts/sftp-server): once with one curl process per file (a cron script's
loop) and once with every file in one curl invocation (one connection, plain upload, no rename or
check). Two sets of files: a few large ones (an export's archives) and many small ones (report
files). Random bytes, as encrypted files are. Prints the median of --repeat runs and the ratios.

usage: bench_delivery.py BENCH_BINARY ROOT [--repeat N] [--large-mb M]
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

bench, root = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
def opt(name, default):
    return int(args[args.index(name) + 1]) if name in args else default
repeat, large_mb = opt("--repeat", 3), opt("--large-mb", 50)

work = tempfile.mkdtemp(prefix="nightshift-bench-delivery-")
server_dir = os.path.join(work, "server")
env = {}
try:
    out = subprocess.run([os.path.join(root, "scripts/sftp-server"), "start", server_dir], check=True, capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.strip().splitlines())
    url, host_key, key, upload = env["URL"], env["HOST_KEY_SHA256"], env["PRIVATE_KEY"], os.path.join(env["ROOT"], "upload")

    sets = {}
    for name, count, size in (("large", 4, large_mb << 20), ("small", 200, 64 << 10)):
        folder = os.path.join(work, name)
        os.makedirs(folder)
        files = []
        for i in range(count):
            path = os.path.join(folder, f"{name}-{i:04d}.bin")
            with open(path, "wb") as f:
                f.write(os.urandom(size))
            files.append(path)
        sets[name] = files

    def clear():
        for entry in os.listdir(upload):
            os.remove(os.path.join(upload, entry))

    def check(files):
        for path in files:
            remote = os.path.join(upload, os.path.basename(path))
            assert os.path.getsize(remote) == os.path.getsize(path), f"{remote} is incomplete"
        assert len(os.listdir(upload)) == len(files), sorted(os.listdir(upload))

    def nightshift(files):
        subprocess.run([bench, "delivery", "--url", url, "--host-key", host_key, "--key", key] + files, check=True, capture_output=True)

    curl = ["curl", "-sS", "--fail", "--hostpubsha256", host_key, "--key", key]
    def curl_each(files):
        for path in files:
            subprocess.run(curl + ["-T", path, url + "/"], check=True, capture_output=True)

    def curl_one(files):
        # One invocation, one connection: -T "{a,b,…}" uploads every file in turn.
        subprocess.run(curl + ["-T", "{" + ",".join(files) + "}", url + "/"], check=True, capture_output=True)

    ways = [("nightshift (SFTPClient: temp name, rename, size check)", nightshift),
            ("curl -T, one process per file", curl_each),
            ("curl -T, all files in one process", curl_one)]
    print(f"delivery to a real OpenSSH sftp server on 127.0.0.1 ({url}); median of {repeat} runs, wall seconds")
    for name, files in sets.items():
        total = sum(os.path.getsize(f) for f in files)
        times = {way: [] for way, _ in ways}
        for r in range(repeat):
            order = ways if r % 2 == 0 else list(reversed(ways))
            for way, run in order:
                clear()
                started = time.perf_counter()
                run(files)
                times[way].append(time.perf_counter() - started)
                check(files)
        print(f"\n  {name}: {len(files)} files, {total / 1048576:.1f} MiB")
        base = statistics.median(times[ways[0][0]])
        for way, _ in ways:
            median = statistics.median(times[way])
            print(f"    {way:<56} {median:8.3f} s  {total / 1048576 / median:8.1f} MiB/s  {median / base:5.2f} × nightshift's time")
    clear()
finally:
    if env:
        subprocess.run([os.path.join(root, "scripts/sftp-server"), "stop", server_dir], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
