"""Two nodes behind HAProxy (Debian package haproxy), as README's "Outgrowing
one node" describes: HAProxy in TCP mode sends PROXY v2 (send-proxy-v2) to
each node's HTTPS listener (proxy_protocol = https) and health-checks each
node with GET /healthz on its metrics listener, so the checks never reach
the served listeners and never fill the error log.  Downloads run through
HAProxy while one node is killed (SIGKILL) mid-run: HAProxy marks it down,
clients retry (curl --retry), and every download is byte-exact; the
survivor's access log shows the client's address from the PROXY header, not
HAProxy's (which connects from 127.0.0.2)."""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402

FILE = "pub/misc/blob-3M.bin"
N_DOWNLOADS = 40


def stats(sock):
    """HAProxy's server states from its stats socket: {name: status}."""
    import socket as so
    s = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(b"show stat\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    res = {}
    for line in out.decode().splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0] == "mirror" and f[1] not in ("BACKEND", "FRONTEND"):
            res[f[1]] = f[17]
    return res


def wait_status(sock, name, want, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if stats(sock).get(name, "").startswith(want):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def main():
    hap = shutil.which("haproxy")
    pmtest.check("haproxy is installed", hap is not None)
    if hap is None:
        pmtest.done()
    tmp = tempfile.mkdtemp(prefix="pm-haproxy-")
    data = os.urandom(3 * 1024 * 1024 + 11)
    want = hashlib.sha256(data).hexdigest()
    nodes = []
    hp = None
    try:
        for i in range(2):
            mport = pmtest.free_port()
            d = pmtest.Daemon(start=False, sets={"proxy_protocol": "https",
                                                 "metrics_listen": "127.0.0.1:%d" % mport})
            with open(os.path.join(d.root, FILE), "wb") as f:
                f.write(data)
            # Both nodes serve the same certificate, as a pair behind one
            # name would: node 0's generated pair, given to node 1.
            if i == 1:
                shutil.copy(nodes[0][0].cert, d.cert)
                shutil.copy(nodes[0][0].key, d.key)
                os.chmod(d.key, 0o600)
            d.start()
            d.mport = mport
            nodes.append((d, mport))
        front = pmtest.free_port()
        sock = os.path.join(tmp, "stats.sock")
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""global
    stats socket %s mode 600 level admin
    maxconn 200

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch

frontend https
    bind 127.0.0.1:%d
    default_backend mirror

backend mirror
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    source 127.0.0.2
    default-server send-proxy-v2 check inter 300ms fall 2 rise 2
""" % (sock, front))
            for i, (d, mport) in enumerate(nodes):
                f.write("    server node%d 127.0.0.1:%d port %d\n" % (i, d.https_port, mport))
        r = subprocess.run([hap, "-c", "-f", cfg], capture_output=True, timeout=30)
        pmtest.check("haproxy -c accepts the configuration", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-600:])
        # The start-up probe of the test harness (a bare connect) is the
        # one refusal before HAProxy: count from here.
        time.sleep(0.3)
        err0 = len(nodes[1][0].log_text())
        page0 = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % nodes[1][1],
                                       timeout=10).read().decode()
        hlog = open(os.path.join(tmp, "haproxy.log"), "wb")
        hp = subprocess.Popen([hap, "-db", "-f", cfg], stdout=hlog, stderr=subprocess.STDOUT)
        pmtest.check("haproxy listens", pmtest.wait_port(front, proc=hp))
        for i in range(2):
            pmtest.check("node%d is UP by its /healthz" % i,
                         wait_status(sock, "node%d" % i, "UP"), stats(sock) if
                         os.path.exists(sock) else "")

        results = [None] * N_DOWNLOADS
        outdir = os.path.join(tmp, "out")
        os.mkdir(outdir)

        def fetch(k):
            out = os.path.join(outdir, "f%d" % k)
            r = subprocess.run(["curl", "-sS", "--cacert", nodes[0][0].cert,
                                "--resolve", "localhost:%d:127.0.0.1" % front,
                                "--retry", "8", "--retry-all-errors", "--retry-delay", "1",
                                "--max-time", "120", "--limit-rate", "4M", "-o", out,
                                "https://localhost:%d/%s?n=%d" % (front, FILE, k)],
                               capture_output=True, timeout=300)
            results[k] = (r.returncode, pmtest.file_sha256(out) if os.path.exists(out)
                          else None, r.stderr.decode()[-200:])

        threads = []
        for k in range(N_DOWNLOADS):
            t = threading.Thread(target=fetch, args=(k,))
            t.start()
            threads.append(t)
            time.sleep(0.05)
            if k == N_DOWNLOADS // 2:
                # Mid-run, with downloads in flight on both nodes.
                nodes[0][0].proc.send_signal(signal.SIGKILL)
                nodes[0][0].proc.wait(timeout=10)
        for t in threads:
            t.join(timeout=400)
        bad = [(k, r) for k, r in enumerate(results) if r is None or r[0] != 0 or r[1] != want]
        pmtest.check("all %d downloads byte-exact with node0 killed mid-run" % N_DOWNLOADS,
                     not bad, bad[:5])
        pmtest.check("HAProxy marked node0 DOWN", wait_status(sock, "node0", "DOWN"),
                     stats(sock))
        pmtest.check("node1 still UP", stats(sock).get("node1", "").startswith("UP"))

        survivor = nodes[1][0]
        time.sleep(0.5)
        with open(survivor.access_log, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        ours = [l for l in lines if FILE in l]
        pmtest.check("node1 served downloads", len(ours) >= N_DOWNLOADS // 3, len(ours))
        pmtest.check("its access log shows the client (127.0.0.1), not HAProxy (127.0.0.2)",
                     ours and all(l.startswith("127.0.0.1 ") for l in ours), ours[:2])
        err = survivor.log_text()[err0:]
        noisy = [l for l in err.splitlines() if re.search(r"closed before|PROXY|header", l)]
        pmtest.check("health checks leave nothing in the error log", not noisy, noisy[:3])
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % nodes[1][1],
                                    timeout=10) as r:
            page = r.read().decode()
        pat = r'^pubmirror_proxy_headers_total\{result="refused"\} (\d+)'
        m0, m = re.search(pat, page0, re.M), re.search(pat, page, re.M)
        pmtest.check("no connection refused for a missing PROXY header",
                     m0 and m and m0.group(1) == m.group(1),
                     (m0 and m0.group(1), m and m.group(1)))
    finally:
        if hp:
            hp.terminate()
            try:
                hp.wait(timeout=10)
            except subprocess.TimeoutExpired:
                hp.kill()
        for d, _ in nodes:
            d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    pmtest.done()


if __name__ == "__main__":
    main()
