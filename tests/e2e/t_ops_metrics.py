"""metrics_listen: /metrics (Prometheus text) and /healthz on a loopback
side port.  The values move when traffic flows: connections and bytes by
protocol, transfers, TLS handshakes, requests and their latency
histogram, limiter refusals and bans, the index.  /healthz turns 503 while
draining.  Off by default: no such port without the key."""
import io
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt

FILE = "pub/hello/hello-2.12.tar.gz"


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        return r.status, ctype, r.read().decode()


def value(page, series):
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", page, re.M)
    return float(m.group(1)) if m else None


def healthz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return repr(e)


def well_formed(page):
    bad = []
    for line in page.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        if not re.match(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.eInf]+$',
                        line):
            bad.append(line)
    return bad


def main():
    port = pmtest.free_port()
    with pmtest.Daemon(start=False, sets={
            "metrics_listen": "127.0.0.1:%d" % port, "max_per_ip": "3", "ban_after": "2",
            "ban_window": "60", "ban_time": "2", "auth_paths": "/private"}) as d:
        af = os.path.join(d.tmp, "htpasswd")
        with open(af, "w") as fh:
            fh.write("alice:%s\n" % crypt.crypt("right", crypt.mksalt(crypt.METHOD_SHA512)))
        os.chmod(d.tmp, 0o755)
        os.chmod(af, 0o644)
        d.write_conf({"auth_file": af})
        d.start()
        if not pmtest.check("metrics port listens", pmtest.wait_port(port, timeout=5)):
            d.cleanup()
            pmtest.done()
        st, ctype, before = scrape(port)
        pmtest.check_eq("/metrics: 200", 200, st)
        pmtest.check("exposition content type", ctype.startswith("text/plain; version=0.0.4"),
                     ctype)
        pmtest.check("page well formed", not well_formed(before), well_formed(before)[:5])
        for fam in ("pubmirror_connections_total", "pubmirror_sent_bytes_total",
                    "pubmirror_transfers_total", "pubmirror_tls_handshakes_total",
                    "pubmirror_tls_handshake_failures_total",
                    "pubmirror_request_duration_seconds", "pubmirror_limiter_rejections_total",
                    "pubmirror_limiter_bans_total", "pubmirror_index_entries",
                    "pubmirror_index_age_seconds"):
            pmtest.check("family %s present" % fam, "# TYPE %s " % fam in before)
        nfiles = 0
        for _, dn, fn in os.walk(d.root):
            dn[:] = [n for n in dn if not n.startswith(".")]
            nfiles += len(dn) + len([n for n in fn if not n.startswith(".")])
        pmtest.check_eq("index entries equal the tree", nfiles,
                        value(before, "pubmirror_index_entries"))
        pmtest.check_eq("/healthz: 200 while serving", 200, healthz(port))

        size = os.path.getsize(os.path.join(d.root, FILE))
        r = d.curl("-o", "/dev/null", path="/" + FILE)
        pmtest.check("HTTPS download", r.returncode == 0, r.stderr)
        r = d.curl("-o", "/dev/null", path="/pub/nothing-here")
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        f = ftplib.FTP_TLS(context=ctx, timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "metrics@example.org")
        f.prot_p()
        buf = io.BytesIO()
        f.retrbinary("RETR " + FILE, buf.write)
        f.quit()
        f = ftplib.FTP(timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "metrics@example.org")
        buf = io.BytesIO()
        f.retrbinary("RETR " + FILE, buf.write)
        f.quit()
        # A failed TLS handshake on the HTTPS port.
        s = socket.create_connection(("127.0.0.1", d.https_port), timeout=5)
        s.sendall(b"\x16\x03\x01\x00\x05garbage-not-tls")
        try:
            s.recv(100)
        except OSError:
            pass
        s.close()
        # Over max_per_ip: the fourth connection from this address is refused.
        held = [socket.create_connection(("127.0.0.1", d.ftp_port), timeout=5)
                for _ in range(4)]
        time.sleep(0.5)
        for h in held:
            h.close()
        time.sleep(0.5)

        end = time.time() + 5
        while True:
            _, _, after = scrape(port)
            if value(after, 'pubmirror_transfers_total{proto="ftp",result="complete"}') or \
                    time.time() > end:
                break
            time.sleep(0.1)

        def grew(series, by=1):
            a, b = value(before, series) or 0, value(after, series)
            return pmtest.check("%s grew by at least %s" % (series, by),
                                b is not None and b - a >= by, "%s -> %s" % (a, b))
        grew('pubmirror_connections_total{proto="https"}', 2)
        grew('pubmirror_connections_total{proto="ftp"}', 2)
        grew('pubmirror_sent_bytes_total{proto="https"}', size)
        # the AUTH TLS download counts under ftps, the plain one under ftp
        grew('pubmirror_sent_bytes_total{proto="ftp"}', size)
        grew('pubmirror_sent_bytes_total{proto="ftps"}', size)
        grew('pubmirror_transfers_total{proto="https",result="complete"}')
        grew('pubmirror_transfers_total{proto="ftp",result="complete"}')
        grew('pubmirror_transfers_total{proto="ftps",result="complete"}')
        grew('pubmirror_tls_handshakes_total{proto="https"}')
        grew('pubmirror_tls_handshakes_total{proto="ftps"}')
        grew('pubmirror_tls_handshake_failures_total{proto="https"}')
        grew('pubmirror_requests_total{proto="https",code="2xx"}')
        grew('pubmirror_requests_total{proto="https",code="4xx"}')
        grew('pubmirror_request_duration_seconds_count{proto="https"}', 2)
        grew('pubmirror_limiter_rejections_total{reason="per_ip"}')
        grew('pubmirror_connections_refused_total{proto="ftp",reason="per_ip"}')
        
        pmtest.check_eq("nothing open any more", 0,
                        value(after, 'pubmirror_connections_open{proto="https"}'))
        pmtest.check("page still well formed", not well_formed(after), well_formed(after)[:5])
        c = value(after, 'pubmirror_request_duration_seconds_count{proto="https"}')
        inf = value(after, 'pubmirror_request_duration_seconds_bucket{proto="https",le="+Inf"}')
        pmtest.check_eq("histogram +Inf bucket equals its count", c, inf)

        # Two failed logins ban the address: a ban is counted.
        for _ in range(2):
            d.curl("-o", "/dev/null", "-u", "alice:wrong", path="/private/")
        time.sleep(0.3)
        _, _, banned = scrape(port)
        pmtest.check("a ban after failed logins is counted",
                     (value(banned, "pubmirror_limiter_bans_total") or 0) >= 1,
                     value(banned, "pubmirror_limiter_bans_total"))

        # Draining: /healthz says 503 while a transfer keeps the process up
        # (after the short ban is over).
        time.sleep(2.5)
        big = os.path.join(d.root, "pub", "slow.bin")
        with open(big, "wb") as fh:
            fh.write(os.urandom(4 << 20))
        time.sleep(0.5)
        p = subprocess.Popen(["curl", "-sS", "--cacert", d.cert, "--limit-rate", "1M",
                              "-o", "/dev/null", d.url("/pub/slow.bin")])
        time.sleep(0.5)
        os.kill(d.pid, signal.SIGTERM)
        time.sleep(0.3)
        code = healthz(port)
        pmtest.check_eq("/healthz: 503 while draining", 503, code)
        p.wait(30)

    if True:
        # The default configuration has metrics_listen = off.
        r = subprocess.run([pmtest.BINARY, "--dump-config"], capture_output=True)
        pmtest.check("metrics_listen is off by default",
                     re.search(rb"^#?\s*metrics_listen\s*=\s*off\b", r.stdout, re.M) is not None)
    pmtest.done()


if __name__ == "__main__":
    main()
