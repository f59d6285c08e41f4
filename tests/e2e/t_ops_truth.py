"""Logs and metrics that tell the truth.

- An HTTPS download of a 20 MiB file cut short by the client is logged when
  it ends (access log and JSON line) as 200 with the bytes actually sent (at
  least what the client read, far below 20 MiB) and its real duration, and
  pubmirror_sent_bytes_total{proto="https"} grows by those bytes.
- A 401 line names the user who tried.
- MODE Z: the xferlog size is the file's size, not the compressed count.
- A transfer after AUTH TLS counts under proto="ftps" (bytes, transfers,
  requests); a plain one under proto="ftp"; requests_total counts FTP
  command replies.
- `promtool check metrics` passes on /metrics after all that traffic, and
  `promtool check rules` on the shipped alert rules, whose metric names
  all exist on the page; the Grafana dashboard is JSON whose queries name
  only metrics on the page.  Needs promtool (Debian package prometheus)."""
import ftplib
import glob
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw  # noqa: E402

BIG = "pub/big-20M.bin"
BIG_SIZE = 20 * 1024 * 1024 + 7
SMALL = "pub/misc/speedtest-256K.bin"


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def value(page, name, **labels):
    total = 0.0
    found = False
    for line in page.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


def wait_for(path, pred, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if pred(line):
                        return line
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    return None


def aborted_https(d, read_bytes):
    """GET the big file over TLS, read read_bytes of body, then close."""
    ctx = ssl.create_default_context(cafile=d.cert)
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", d.https_port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(("GET /%s?abort HTTP/1.1\r\nHost: localhost\r\nUser-Agent: aborter\r\n\r\n"
               % BIG).encode())
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    head, body = got.split(b"\r\n\r\n", 1)
    n = len(body)
    while n < read_bytes:
        b = s.recv(65536)
        if not b:
            break
        n += len(b)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    return head.split(b"\r\n")[0].decode(), n


def main():
    for t in ("promtool", "curl"):
        pmtest.check("%s is installed" % t, shutil.which(t) is not None)
    mport = pmtest.free_port()
    d = pmtest.Daemon(start=False, sets={"metrics_listen": "127.0.0.1:%d" % mport,
                                         "rate_per_ip": "2M"})
    try:
        with open(os.path.join(d.root, BIG), "wb") as f:
            f.write(os.urandom(BIG_SIZE))
        af = os.path.join(d.tmp, "htpasswd")
        h = subprocess.run(["openssl", "passwd", "-6", "right-pw"], capture_output=True,
                           check=True).stdout.decode().strip()
        with open(af, "w") as f:
            f.write("alice:%s\n" % h)
        os.chmod(af, 0o644)
        jlog = os.path.join(d.tmp, "json.log")
        os.mkdir(os.path.join(d.root, "private"))
        with open(os.path.join(d.root, "private", "x.txt"), "w") as f:
            f.write("members\n")
        d.write_conf({"auth_file": af, "auth_paths": "/private", "json_log": jlog})
        d.start()
        pmtest.check("metrics port up", pmtest.wait_port(mport, proc=d.proc))
        before = metrics(mport)

        # 1. An aborted HTTPS download.
        t0 = time.time()
        status, got = aborted_https(d, 6 * 1024 * 1024)
        took = time.time() - t0
        pmtest.check_eq("HTTPS download started", "HTTP/1.1 200 OK", status)
        line = wait_for(d.access_log, lambda l: "?abort" in l)
        pmtest.check("access line written when the download ended", line is not None)
        m = re.search(r'" (\d{3}) (\d+) ', line or "")
        logged = int(m.group(2)) if m else -1
        pmtest.check_eq("access line: status 200", "200", m.group(1) if m else None)
        pmtest.check("access line: bytes actually sent (client read %d, logged %d, file %d)"
                     % (got, logged, BIG_SIZE),
                     got - 128 * 1024 <= logged < BIG_SIZE // 2, logged)
        jl = wait_for(jlog, lambda l: "?abort" in l)
        ev = json.loads(jl) if jl else {}
        pmtest.check_eq("JSON line: same bytes", logged, ev.get("bytes"))
        secs = ev.get("secs", ev.get("duration", ev.get("seconds", -1)))
        pmtest.check("JSON line: the real duration (%.2f s of %.2f s)" % (secs, took),
                     isinstance(secs, (int, float)) and secs >= 1.0 and secs <= took + 1, ev)
        time.sleep(0.3)
        after = metrics(mport)
        delta = (value(after, "pubmirror_sent_bytes_total", proto="https") or 0) - \
            (value(before, "pubmirror_sent_bytes_total", proto="https") or 0)
        pmtest.check("sent_bytes_total{https} grew by the bytes sent (%d, logged %d)"
                     % (delta, logged), logged > 0 and abs(delta - logged) < 64 * 1024, delta)
        pmtest.check("an incomplete https transfer counted",
                     (value(after, "pubmirror_transfers_total", proto="https",
                            result="incomplete") or 0) >= 1)

        # 2. A 401 names the user who tried.
        r = d.curl("-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:wrong-pw",
                   path="/private/x.txt")
        pmtest.check_eq("wrong password: 401", "401", r.stdout.decode())
        line = wait_for(d.access_log, lambda l: "/private/x.txt" in l and '" 401 ' in l)
        pmtest.check("401 line names the user who tried",
                     line is not None and line.split(" ")[2] == "alice", line)
        r = d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/private/x.txt")
        line = wait_for(d.access_log, lambda l: "/private/x.txt" in l and '" 401 ' in l and
                        l.split(" ")[2] == "-")
        pmtest.check("401 without credentials: user -", line is not None)

        # 3. MODE Z: xferlog size is the file's.
        with open(os.path.join(d.root, SMALL), "rb") as f:
            blob = f.read()
        r = Raw(d.ftp_port)
        r.login_prot(False)
        r.code("MODE Z")
        r.code("TYPE I")
        c1, data, c2 = r.retr_bytes("RETR /" + SMALL, False)
        r.code("QUIT")
        r.close()
        pmtest.check("MODE Z download inflates to the file", zlib.decompress(data) == blob)
        line = wait_for(d.xfer_log, lambda l: SMALL in l)
        f = (line or "").split()
        pmtest.check_eq("MODE Z xferlog size is the file's bytes", str(len(blob)),
                        f[7] if len(f) > 7 else None)

        # 4. ftp and ftps accounting.
        m0 = metrics(mport)
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        ft = ftplib.FTP_TLS(context=ctx, timeout=20)
        ft.connect("127.0.0.1", d.ftp_port)
        ft.login()
        ft.prot_p()
        buf = bytearray()
        ft.retrbinary("RETR /" + SMALL, buf.extend)
        ft.quit()
        pmtest.check("explicit FTPS download byte-exact", bytes(buf) == blob)
        fp = ftplib.FTP(timeout=20)
        fp.connect("127.0.0.1", d.ftp_port)
        fp.login()
        buf = bytearray()
        fp.retrbinary("RETR /" + SMALL, buf.extend)
        fp.quit()
        time.sleep(0.3)
        m1 = metrics(mport)

        def grew(name, **lab):
            return (value(m1, name, **lab) or 0) - (value(m0, name, **lab) or 0)
        pmtest.check_eq("explicit FTPS bytes under proto=ftps", len(blob),
                        int(grew("pubmirror_sent_bytes_total", proto="ftps")))
        pmtest.check_eq("plain FTP bytes under proto=ftp", len(blob),
                        int(grew("pubmirror_sent_bytes_total", proto="ftp")))
        pmtest.check_eq("explicit FTPS transfer under proto=ftps", 1,
                        int(grew("pubmirror_transfers_total", proto="ftps", result="complete")))
        pmtest.check("requests_total counts ftps replies",
                     grew("pubmirror_requests_total", proto="ftps") >= 3)
        pmtest.check("requests_total counts ftp replies",
                     grew("pubmirror_requests_total", proto="ftp") >= 4)
        pmtest.check("ftp 226 counted", grew("pubmirror_requests_total", proto="ftp",
                                            code="226") >= 1 or
                     grew("pubmirror_requests_total", proto="ftp", code="2xx") >= 1,
                     [l for l in m1.splitlines() if "requests_total{proto=\"ftp\"" in l])

        # 5. promtool on the page, the rules and the dashboard.
        page = os.path.join(d.tmp, "metrics.txt")
        with open(page, "w") as f:
            f.write(m1)
        with open(page) as f:
            r = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True,
                               timeout=60)
        pmtest.check("promtool check metrics passes", r.returncode == 0 and not r.stdout.strip()
                     and not r.stderr.strip(), (r.stdout + r.stderr).decode()[-800:])
        names = set(re.findall(r"^# TYPE (\S+) (\S+)", m1, re.M) and
                    [n for n, _ in re.findall(r"^# TYPE (\S+) (\S+)", m1, re.M)])
        hist = {n for n, t in re.findall(r"^# TYPE (\S+) (\S+)", m1, re.M) if t == "histogram"}
        names |= {n + s for n in hist for s in ("_bucket", "_sum", "_count")}
        rules = glob.glob(os.path.join(pmtest.TOP, "conf", "prometheus", "*.rules.yml"))
        pmtest.check("alert rules shipped in conf/prometheus/", rules != [])
        for rf in rules:
            r = subprocess.run(["promtool", "check", "rules", rf], capture_output=True,
                               timeout=60)
            pmtest.check("promtool check rules %s" % os.path.basename(rf), r.returncode == 0,
                         (r.stdout + r.stderr).decode()[-800:])
            used = set(re.findall(r"\b(pubmirror_[a-z_]+)", open(rf).read()))
            pmtest.check("%s names only metrics on the page" % os.path.basename(rf),
                         used and used <= names, used - names)
        dash = glob.glob(os.path.join(pmtest.TOP, "conf", "grafana", "*.json"))
        pmtest.check("Grafana dashboard shipped in conf/grafana/", dash != [])
        for df in dash:
            with open(df) as f:
                try:
                    j = json.load(f)
                except ValueError as e:
                    j = None
                    pmtest.check("%s is JSON" % df, False, e)
            exprs = [t.get("expr", "") for p in (j or {}).get("panels", [])
                     for t in p.get("targets", [])]
            used = set(re.findall(r"\b(pubmirror_[a-z_]+)", " ".join(exprs)))
            pmtest.check("dashboard has panels with queries", len(exprs) >= 6, len(exprs))
            pmtest.check("dashboard names only metrics on the page", used <= names,
                         used - names)
    finally:
        d.cleanup()
    pmtest.done()


if __name__ == "__main__":
    main()
