"""Hostile HTTPS clients, while two good clients download a 200 MB file over
FTPS and HTTPS: methods that would write (405), 1 MB of headers (431), a
request trickled one byte a second (closed within the HTTP timeout), TLS
1.0/1.1 and SSLv3 offered on the HTTPS and the FTPS ports (refused), range
games.  Each gets its exact answer; afterwards the downloads are byte-exact,
the daemon serves, its memory is back and the tree is unchanged.
# pm-tsan"""
import os
import socket
import ssl
import subprocess
import threading
import time

import hostile
import pmtest
from hostile import check, check_eq

# http.c uses min(idle_timeout, PM_HTTP_TIMEOUT) as the connection timeout:
# lowered here so that the slow clients are judged within seconds.
HTTP_TIMEOUT = 8


def methods(d):
    for m in ("PUT", "DELETE", "POST", "PATCH", "TRACE", "CONNECT", "PROPFIND", "MKCOL",
              "BREW"):
        body = "hello" if m in ("PUT", "POST", "PATCH") else ""
        code, text = hostile.https_status(
            d, "/README", method=m,
            headers="Content-Length: %d\r\n" % len(body) if body else "")
        check_eq("HTTPS %s /README answers 405" % m, 405, code)
        check("HTTPS %s /README says which methods are served" % m,
              b"only GET, HEAD and OPTIONS are served" in text, text[:100])
    code, _ = hostile.https_status(d, "/README", method="PUT",
                                   headers="Transfer-Encoding: chunked\r\n")
    check_eq("HTTPS chunked PUT answers 405", 405, code)


def big_headers(d):
    many = "".join("X-Filler-%d: %s\r\n" % (i, "b" * 1000) for i in range(1024))
    a = hostile.https_raw(d, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + "\r\n")
    check("1 MB of headers (1024 lines) answers 431",
          a.startswith(b"HTTP/1.1 431 "), a[:100])
    a = hostile.https_raw(d, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                          "a" * (1024 * 1024) + "\r\n\r\n")
    check("one 1 MB header line answers 431", a.startswith(b"HTTP/1.1 431 "), a[:100])
    a = hostile.https_raw(d, "GET /" + "a" * (1024 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n")
    check("a 1 MB request line answers 414 or 431",
          a.startswith(b"HTTP/1.1 414 ") or a.startswith(b"HTTP/1.1 431 "), a[:100])


def ranges(d):
    size = os.path.getsize(os.path.join(d.root, "README"))
    many = ",".join("0-0" for _ in range(1000))
    r = d.curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H",
               "Range: bytes=" + many, path="/README")
    check_eq("1000 ranges are ignored: 200 with the whole file", b"200 %d" % size, r.stdout)
    r = d.curl("-o", "/dev/null", "-w", "%{http_code}", "-H",
               "Range: bytes=%d-" % (size + 10), path="/README")
    check_eq("a range past the end answers 416", b"416", r.stdout)
    r = d.curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-H",
               "Range: bytes=-99999999999999999999999", path="/README")
    check("an overflowing suffix range does not crash (200 or 206 whole file)",
          r.stdout in (b"200 %d" % size, b"206 %d" % size), r.stdout)


def slowloris(d, out):
    """Trickle a request one byte a second; out["closed_after"] = seconds
    until the server closed, None if it never did within the bound."""
    s = ssl.create_default_context(cafile=d.cert)
    s.check_hostname = False
    sock = s.wrap_socket(hostile.conn(d, d.https_port, src="127.0.0.6"))
    sock.settimeout(1.0)
    req = b"GET /README HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200
    start = time.time()
    out["closed_after"] = None
    out["answer"] = b""
    for i in range(HTTP_TIMEOUT + 15):
        try:
            sock.send(req[i:i + 1] if i < len(req) else b"s")
        except (OSError, ssl.SSLError):
            out["closed_after"] = time.time() - start
            break
        try:
            b = sock.recv(4096)
            out["answer"] += b
            if not b:
                out["closed_after"] = time.time() - start
                break
        except (socket.timeout, TimeoutError):
            pass
        except (OSError, ssl.SSLError):
            out["closed_after"] = time.time() - start
            break
    sock.close()


def idle(d, out):
    """A TLS connection that sends nothing after the handshake."""
    s = ssl.create_default_context(cafile=d.cert)
    s.check_hostname = False
    sock = s.wrap_socket(hostile.conn(d, d.https_port, src="127.0.0.6"))
    sock.settimeout(HTTP_TIMEOUT + 15)
    start = time.time()
    out["idle_closed_after"] = None
    try:
        if sock.recv(4096) == b"":
            out["idle_closed_after"] = time.time() - start
    except (OSError, ssl.SSLError) as e:
        if not isinstance(e, (socket.timeout, TimeoutError)):
            out["idle_closed_after"] = time.time() - start
    sock.close()


def openssl(args, port, inp=b""):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + args,
                          input=inp, capture_output=True, timeout=30)


def sslv3_hello():
    """A hand-built SSLv3 ClientHello (OpenSSL 3 cannot send one)."""
    suites = bytes.fromhex("0035002f000a0005")
    body = b"\x03\x00" + os.urandom(32) + b"\x00" + len(suites).to_bytes(2, "big") + suites + \
        b"\x01\x00"
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x00" + len(hs).to_bytes(2, "big") + hs


def old_tls(d):
    for name, port, starttls in (("HTTPS", d.https_port, []),
                                 ("implicit FTPS", d.ftps_port, []),
                                 ("explicit FTPS", d.ftp_port, ["-starttls", "ftp"])):
        for v in ("-tls1", "-tls1_1"):
            r = openssl(starttls + [v, "-cipher", "DEFAULT@SECLEVEL=0"], port)
            out = (r.stdout + r.stderr).decode("utf-8", "replace")
            check("%s refuses %s (no cipher agreed)" % (name, v),
                  r.returncode != 0 and "Cipher is (NONE)" in out,
                  out[-300:])
        r = openssl(starttls + ["-tls1_2"], port)
        out = r.stdout.decode("utf-8", "replace")
        check("%s accepts TLS 1.2" % name, "Protocol  : TLSv1.2" in out, out[-300:])
    for name, port in (("HTTPS", d.https_port), ("implicit FTPS", d.ftps_port)):
        s = hostile.conn(d, port, src="127.0.0.7")
        s.sendall(sslv3_hello())
        got = b""
        try:
            while len(got) < 65536:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except (ConnectionResetError, socket.timeout, TimeoutError):
            pass
        s.close()
        # either a close without a ServerHello, or a fatal alert record
        check("%s refuses an SSLv3 ClientHello (no ServerHello)" % name,
              got == b"" or got[:1] == b"\x15", got[:20])


def main():
    d, digest = hostile.start_daemon(sets={"idle_timeout": str(HTTP_TIMEOUT)})
    with d:
        tree_before = hostile.tree_digest(d.root)
        rss_start = d.rss_kib()
        good = hostile.GoodDownloads(d)
        check("good downloads started", good.started())
        slow = {}
        st = threading.Thread(target=slowloris, args=(d, slow), daemon=True)
        st.start()
        it = threading.Thread(target=idle, args=(d, slow), daemon=True)
        it.start()
        methods(d)
        big_headers(d)
        ranges(d)
        old_tls(d)
        st.join(HTTP_TIMEOUT + 40)
        it.join(HTTP_TIMEOUT + 40)
        ca = slow.get("idle_closed_after")
        check("idle TLS connection closed by the server within %d s (+5 s)" % HTTP_TIMEOUT,
              ca is not None and ca <= HTTP_TIMEOUT + 5, "closed after %r s" % ca)
        ca = slow.get("closed_after")
        check("request trickled one byte a second closed within %d s (+5 s)" % HTTP_TIMEOUT,
              ca is not None and ca <= HTTP_TIMEOUT + 5, "closed after %r s" % ca)
        check("slowloris request got no 200",
              not slow.get("answer", b"").startswith(b"HTTP/1.1 200"), slow.get("answer"))
        check("good downloads still running after the HTTPS attacks", good.running())
        hostile.finish(d, good, digest, tree_before, rss_start)
    pmtest.done()


main()
