"""Connection floods, while two good clients download a 200 MB file over
FTPS and HTTPS: more connections than max_per_ip from one address (421 on
FTP, 503 on HTTPS, across protocols), more than max_clients from many
addresses (421 / 503), never a reset without a reply; the good clients are
not cut.  # pm-tsan"""
import socket
import ssl
import time

import hostile
import pmtest
from hostile import check, check_eq

MAX_PER_IP = 5
MAX_CLIENTS = 30


def https_try(d, src):
    """Status line of one request on a new connection; 'reset' or 'closed'
    when the server gave no reply."""
    try:
        t = hostile.ssl_ctx(d).wrap_socket(hostile.conn(d, d.https_port, src=src))
    except (ConnectionResetError, ssl.SSLError, OSError) as e:
        return "handshake failed: %r" % (e,), None
    try:
        t.sendall(b"GET /README HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        t.settimeout(10)
        a = b""
        while b"\r\n" not in a:
            b = t.recv(4096)
            if not b:
                return "closed", t
            a += b
        return a.split(b"\r\n")[0].decode(), t
    except (ConnectionResetError, ssl.SSLError, OSError) as e:
        return "reset: %r" % (e,), t


def ftp_try(d, src):
    try:
        c = hostile.Ctl(d, src=src)
        code, lines = c.reply()
        return code, lines[0], c
    except (EOFError, ConnectionResetError, OSError) as e:
        return "no reply: %r" % (e,), b"", None


def per_ip(d):
    src = "127.0.0.7"
    held = []
    answers = []
    for i in range(MAX_PER_IP + 3):
        code, line, c = ftp_try(d, src)
        answers.append(code)
        if c:
            held.append(c)
        if code == 421:
            check("FTP over max_per_ip says why",
                  b"Too many connections from your address" in line, line)
    check_eq("FTP flood from one address: %d x 220 then 421" % MAX_PER_IP,
             [220] * MAX_PER_IP + [421] * 3, answers)
    # the limit is for all protocols together: HTTPS from that address is full
    status, t = https_try(d, src)
    check_eq("HTTPS from the same full address answers 503", "HTTP/1.1 503 Service Unavailable",
             status)
    if t:
        t.close()
    for c in held:
        c.close()
    time.sleep(0.5)
    # and the other way round: HTTPS keep-alive connections fill the address
    hs = []
    statuses = []
    for i in range(MAX_PER_IP + 2):
        status, t = https_try(d, "127.0.0.8")
        statuses.append(status)
        if t:
            hs.append(t)
    check_eq("HTTPS flood from one address: %d x 200 then 503" % MAX_PER_IP,
             ["HTTP/1.1 200 OK"] * MAX_PER_IP + ["HTTP/1.1 503 Service Unavailable"] * 2,
             statuses)
    code, line, c = ftp_try(d, "127.0.0.8")
    check_eq("FTP from the address full of HTTPS connections answers 421", 421, code)
    if c:
        c.close()
    for t in hs:
        t.close()


def global_limit(d):
    held = []
    ftp_codes = []
    for i in range(MAX_CLIENTS + 5):
        code, line, c = ftp_try(d, "127.0.1.%d" % (1 + i // 4))
        ftp_codes.append(code)
        if c:
            held.append(c)
        if code == 421:
            check("FTP over max_clients says why",
                  b"Too many connections to this server" in line, line)
    accepted = ftp_codes.count(220)
    check("FTP flood from many addresses: only 220 or 421, never a reset",
          set(ftp_codes) <= {220, 421}, ftp_codes)
    check("FTP flood: at most max_clients accepted (%d) and some refused" % accepted,
          0 < accepted <= MAX_CLIENTS and ftp_codes[-1] == 421, ftp_codes)
    status, t = https_try(d, "127.0.2.1")
    check_eq("HTTPS while the server is full answers 503", "HTTP/1.1 503 Service Unavailable",
             status)
    if t:
        t.close()
    for c in held:
        c.close()
    time.sleep(1.0)
    code, _, c = ftp_try(d, "127.0.2.2")
    check_eq("once the flood is gone FTP greets 220 again", 220, code)
    if c:
        c.close()


def main():
    d, digest = hostile.start_daemon(sets={"max_per_ip": str(MAX_PER_IP),
                                           "max_clients": str(MAX_CLIENTS)})
    with d:
        tree_before = hostile.tree_digest(d.root)
        rss_start = d.rss_kib()
        good = hostile.GoodDownloads(d)
        check("good downloads started", good.started())
        per_ip(d)
        global_limit(d)
        check("good downloads still running after the floods", good.running())
        hostile.finish(d, good, digest, tree_before, rss_start)
    pmtest.done()


main()
