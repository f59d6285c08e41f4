"""HTTPS methods and hostile request targets: 405 with Allow, OPTIONS 204,
path escapes (.., %2e%2e, %2f, %00, backslash, overlong) answered 400/404
without leaking anything, oversized headers refused, server unharmed."""
import socket
import ssl
import pmtest


def raw(d, data, timeout=10):
    """Send raw bytes over TLS; return the whole reply (server closes or
    we stop at the end of one response)."""
    ctx = ssl.create_default_context(cafile=d.cert)
    s = socket.create_connection(("127.0.0.1", d.https_port), timeout=timeout)
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    t.sendall(data)
    out = b""
    try:
        while True:
            b = t.recv(65536)
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    except (socket.timeout, ssl.SSLError, ConnectionResetError):
        pass
    t.close()
    return out


def status(reply):
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def get(d, target, extra=b""):
    return raw(d, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra + b"\r\n")


with pmtest.Daemon() as d:
    for m in (b"POST", b"PUT", b"DELETE", b"TRACE", b"PATCH", b"BREW"):
        r = raw(d, m + b" /README HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        pmtest.check_eq("%s: 405" % m.decode(), 405, status(r))
        pmtest.check("%s: Allow" % m.decode(), b"\r\nAllow: GET, HEAD, OPTIONS\r\n" in r, r[:300])
    r = raw(d, b"POST /README HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    pmtest.check_eq("POST with body: 405", 405, status(r))
    r = raw(d, b"PUT /new HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nxx")
    pmtest.check_eq("PUT with a huge body: 405 at once", 405, status(r))
    r = raw(d, b"GET /README HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nxx")
    pmtest.check_eq("GET with a body: 413 at once", 413, status(r))
    r = raw(d, b"GET /README HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    pmtest.check_eq("GET with an empty body: 200", 200, status(r))
    r = raw(d, b"OPTIONS /README HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    pmtest.check("OPTIONS: 204 + Allow", status(r) == 204 and b"Allow: GET, HEAD, OPTIONS" in r, r[:300])
    r = raw(d, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    pmtest.check_eq("OPTIONS *: 204", 204, status(r))

    hostile = [
        b"/../../../../etc/passwd",
        b"/pub/../../etc/passwd",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        b"/pub/%2fetc%2fpasswd",
        b"/pub/%2F..%2F..%2Fetc",
        b"/README%00.txt",
        b"/pub%00/",
        b"/pub\\..\\..\\etc\\passwd",
        b"/pub/%5c..%5c..%5cetc",
        b"/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        b"/%252e%252e/etc/passwd",
        b"/pub/%",
        b"/pub/%zz",
        b"/" + b"a" * 300,
        b"/" + b"a/" * 100,
        b"//etc/passwd",
        b"/./././../etc/passwd",
    ]
    for t in hostile:
        r = get(d, t)
        s = status(r)
        pmtest.check("%r: 400 or 404" % t[:60], s in (400, 404), r[:200])
        pmtest.check("%r: no file outside, no path" % t[:60],
                     b"root:" not in r and d.root.encode() not in r and b"Traceback" not in r)
    r = get(d, b"/" + b"x" * 20000)
    pmtest.check("20 KB target refused", status(r) in (400, 414, 431), r[:100])
    r = get(d, b"/README", b"X-Big: " + b"y" * 40000 + b"\r\n")
    pmtest.check("40 KB header refused", status(r) in (400, 413, 431) or r == b"", r[:100])
    r = get(d, b"/pub/../README")
    pmtest.check("dot segment inside the root", status(r) in (200, 400), r[:100])
    r = get(d, b"/README")
    pmtest.check_eq("server unharmed", 200, status(r))
pmtest.done()
