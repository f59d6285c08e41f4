"""The shared limiter over HTTPS: per-address connection limit answered
with 503 + Retry-After (a reason, not a refused TCP connection); the
per-address byte rate applied to bodies without busy-waiting, while other
requests stay served."""
import os
import socket
import ssl
import subprocess
import threading
import time
import pmtest


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def open_conn(d):
    ctx = ssl.create_default_context(cafile=d.cert)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.https_port), timeout=10),
                        server_hostname="127.0.0.1")
    s.sendall(b"HEAD /README HTTP/1.1\r\nHost: x\r\n\r\n")
    return s, s.recv(65536)


with pmtest.Daemon(sets={"max_per_ip": "2"}) as d:
    a, ra = open_conn(d)
    b, rb = open_conn(d)
    pmtest.check("two connections served", ra.startswith(b"HTTP/1.1 200") and rb.startswith(b"HTTP/1.1 200"))
    p = d.curl("-i", path="/README")
    head = p.stdout.decode("utf-8", "replace")
    pmtest.check("third connection: 503", head.startswith("HTTP/1.1 503"), head[:200])
    pmtest.check("Retry-After", "\r\nRetry-After: " in head)
    pmtest.check("reason given", "too many connections from your address" in head)
    a.close()
    ok = False
    for _ in range(50):
        p = d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/README")
        if p.stdout == b"200":
            ok = True
            break
        time.sleep(0.1)
    pmtest.check("a freed slot is usable again", ok)
    b.close()

with pmtest.Daemon(sets={"rate_per_ip": "200K", "http_threads": "2"}) as d:
    data = os.urandom(600 * 1024)
    with open(os.path.join(d.root, "rate.bin"), "wb") as f:
        f.write(data)
    d.reload()
    for _ in range(100):
        if d.curl("-I", "-o", "/dev/null", "-w", "%{http_code}", path="/rate.bin").stdout == b"200":
            break
        time.sleep(0.1)
    res = {}

    def fetch():
        t0 = time.time()
        res["p"] = d.curl("-o", "-", path="/rate.bin")
        res["t"] = time.time() - t0
    cpu0 = cpu_seconds(d.pid)
    th = threading.Thread(target=fetch)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    p = d.curl("-I", "-o", "/dev/null", "-w", "%{http_code}", path="/README")
    other = time.time() - t0
    th.join(60)
    cpu = cpu_seconds(d.pid) - cpu0
    pmtest.check("throttled download is exact", res["p"].stdout == data)
    pmtest.check("rate applied (600 KiB at 200 KiB/s takes over 1.5 s)", res["t"] > 1.5, res["t"])
    pmtest.check("another request is answered meanwhile", p.stdout == b"200" and other < 1.0, other)
    pmtest.check("no busy-waiting (daemon CPU %.2f s)" % cpu, cpu < 1.0, cpu)
    p = subprocess.run(["curl", "-sS", "--cacert", d.cert, "-o", "/dev/null", "-w", "%{http_code}",
                        "--http1.1", d.url("/rate.bin"), "-r", "0-1023"], capture_output=True, timeout=30)
    pmtest.check_eq("range under the rate limit", b"206", p.stdout)
pmtest.done()
