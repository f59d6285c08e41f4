"""SIGTERM drains: transfers in progress (plain FTP and HTTPS) finish
byte-exact when shorter than drain_timeout; new connections are refused
at once; the process exits by itself, status 0.  A transfer longer than
drain_timeout is cut when the time is up, and the exit still comes."""
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

NAME = "pub/drain.bin"


Fetch = pmtest.Fetch


def ftp_get(d, st):
    try:
        f = ftplib.FTP(timeout=30)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "drain@example.org")
        f.retrbinary("RETR " + NAME, st.feed, blocksize=65536)
        f.close()
    except Exception as e:
        st.error = repr(e)
    st.done = True


def https_get(d, st):
    st.curl(d, "/" + NAME, 60, 65536)


def refused(port, tls_cert=None, wait=2.0):
    """True when a new connection gets no service: refused, reset or closed
    without an answer.  FTP: no greeting; HTTPS: no handshake or no
    response to a real request.  Accepted and left hanging is not a
    refusal."""
    s = socket.socket()
    s.settimeout(wait)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        return True
    try:
        if tls_cert is None:
            return s.recv(100) == b""  # FTP speaks first
        ctx = ssl.create_default_context(cafile=tls_cert)
        ctx.check_hostname = False
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(b"HEAD /pub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return t.recv(100) == b""
    except socket.timeout:
        return False
    except (OSError, ssl.SSLError):
        return True
    finally:
        s.close()


def start(d, data):
    with open(os.path.join(d.root, NAME), "wb") as f:
        f.write(data)
    d.start()
    a, b = Fetch(), Fetch()
    ts = [threading.Thread(target=ftp_get, args=(d, a), daemon=True),
          threading.Thread(target=https_get, args=(d, b), daemon=True)]
    for t in ts:
        t.start()
    end = time.time() + 15
    while time.time() < end and (a.bytes == 0 or b.bytes == 0):
        time.sleep(0.02)
    return a, b, ts


def main():
    data = os.urandom(16 << 20)
    want = hashlib.sha256(data).hexdigest()

    # 1. Shorter than drain_timeout: both finish.  Two transfers share the
    #    per-address rate: 32 MiB at 4 MiB/s, about 8 s.
    d = pmtest.Daemon(start=False, sets={"rate_per_ip": "4M", "drain_timeout": "20"})
    try:
        a, b, ts = start(d, data)
        pmtest.check("both transfers started", a.bytes > 0 and b.bytes > 0)
        t0 = time.time()
        os.kill(d.pid, signal.SIGTERM)
        time.sleep(0.3)
        pmtest.check("new FTP connection refused while draining", refused(d.ftp_port))
        pmtest.check("new HTTPS connection refused while draining",
                     refused(d.https_port, d.cert))
        pmtest.check("transfers still running while draining", not a.done or not b.done)
        for t in ts:
            t.join(40)
        pmtest.check("FTP transfer finished", a.done and a.error is None, a.error)
        pmtest.check("HTTPS transfer finished", b.done and b.error is None, b.error)
        pmtest.check_eq("FTP byte-exact", want, a.sha.hexdigest())
        pmtest.check_eq("HTTPS byte-exact", want, b.sha.hexdigest())
        try:
            rc = d.proc.wait(25)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        pmtest.check_eq("process exited by itself with status 0", 0, rc)
        pmtest.check("exit came after the transfers, before drain_timeout",
                     took < 20, "%.1f s" % took)
        pmtest.check("drain logged", "draining" in d.log_text() and "stopped" in d.log_text(),
                     d.log_text()[-800:])
    finally:
        d.cleanup()

    # 2. Longer than drain_timeout: cut when the time is up.
    d = pmtest.Daemon(start=False, sets={"rate_per_ip": "1M", "drain_timeout": "2"})
    try:
        a, b, ts = start(d, data)
        t0 = time.time()
        os.kill(d.pid, signal.SIGTERM)
        try:
            rc = d.proc.wait(20)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        pmtest.check_eq("long transfer: process exited with status 0", 0, rc)
        pmtest.check("long transfer: exit about drain_timeout after SIGTERM",
                     1.5 <= took < 12, "%.1f s" % took)
        for t in ts:
            t.join(20)
        pmtest.check("long transfers were cut, not completed",
                     a.bytes < len(data) and b.bytes < len(data),
                     "ftp %d, https %d of %d" % (a.bytes, b.bytes, len(data)))
    finally:
        d.cleanup()
    pmtest.done()


if __name__ == "__main__":
    main()
