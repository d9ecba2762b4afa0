import Foundation

/// A Python client (standard library only) that attacks an HTTPS server the way the issue did:
/// slow heads, silent TLS connections, oversized request lines, endless chunked bodies and
/// promised bodies never sent, then times one valid call while they hold on. Prints JSON.
public enum HTTPAttack {
    public static let script = #"""
import json, select, socket, ssl, sys, threading, time
host, port, cafile, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
counts = dict(slow=int(sys.argv[5]), silent=int(sys.argv[6]), oversized=int(sys.argv[7]), chunked=int(sys.argv[8]), promised=int(sys.argv[9]))
ctx = ssl.create_default_context(cafile=cafile)
lock = threading.Lock()
results = {k: [] for k in counts}

def record(kind, value):
    with lock: results[kind].append(value)

def tls():
    raw = socket.create_connection((host, port), timeout=60)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

def slow():
    start = time.time()
    try:
        s = tls()
        for b in b"GET /api/v1/batches/daily/runs/1 HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"a" * 200:
            s.send(bytes([b])); time.sleep(1)
        record("slow", 999)
    except OSError:
        record("slow", time.time() - start)

def silent():
    start = time.time()
    try:
        raw = socket.create_connection((host, port), timeout=60)
        raw.recv(1)
        record("silent", time.time() - start)
    except OSError:
        record("silent", time.time() - start)

def answered(s):
    # The server has answered (or closed) once the socket is readable.
    return s.pending() > 0 or select.select([s], [], [], 0.05)[0]

def oversized():
    # Bytes sent before the server answered or closed.
    sent = 0
    try:
        s = tls()
        s.sendall(b"GET /")
        for _ in range(64):
            if answered(s): break
            s.sendall(b"a" * 16384); sent += 16384
        record("oversized", sent)
    except OSError:
        record("oversized", sent)

def chunked():
    sent = 0
    try:
        s = tls()
        s.sendall(b"POST /api/v1/batches/daily/runs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"b" * 65536 + b"\r\n"
        while sent < 200 * 1024 * 1024 and not answered(s):
            s.sendall(chunk); sent += 65536
        record("chunked", sent)
    except OSError:
        record("chunked", sent)

def promised():
    start = time.time()
    try:
        s = tls()
        s.sendall(b"POST /api/v1/batches/daily/runs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + key.encode() + b"\r\nContent-Length: 10000\r\n\r\n{")
        while s.recv(4096): pass
        record("promised", time.time() - start)
    except OSError:
        record("promised", time.time() - start)

threads = []
for kind, n in counts.items():
    for _ in range(n):
        t = threading.Thread(target=globals()[kind], daemon=True); t.start(); threads.append(t)
time.sleep(3)
start = time.time()
s = tls()
s.sendall(b"GET /api/v1/batches/daily/runs/99999 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + key.encode() + b"\r\nConnection: close\r\n\r\n")
answer = b""
while True:
    part = s.recv(4096)
    if not part: break
    answer += part
valid = dict(seconds=time.time() - start, status=int(answer.split(b" ")[1]))
sys.stdout.write("ATTACKING\n"); sys.stdout.flush()
for t in threads: t.join(60)
print(json.dumps(dict(valid=valid, **results)))
"""#
}
