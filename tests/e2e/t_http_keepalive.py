"""Regression tests for libmicrohttpd 0.9.75 traps: keep-alive reuse, the
idle timeout, HTTP/1.0 clients over TLS, and one-request connections
without a stall."""
# pm-tsan: also run by make tsan (threads share the index, limiter and config)
import socket
import ssl
import time
import pmtest

with pmtest.Daemon(sets={"idle_timeout": "2"}) as d:
    p = d.curl("-v", "-o", "/dev/null", "-o", "/dev/null", d.url("/README"), d.url("/pub/"))
    err = p.stderr.decode("utf-8", "replace")
    pmtest.check("two requests, one connection", "Re-using existing connection" in err
                 or "Reusing existing connection" in err, err[-600:])
    p = d.curl("-v", "-o", "/dev/null", "-o", "/dev/null", "-I", d.url("/pub/"), d.url("/README"))
    err = p.stderr.decode("utf-8", "replace")
    pmtest.check("keep-alive after a listing and HEAD", "Re-using existing connection" in err
                 or "Reusing existing connection" in err, err[-600:])
    p = d.curl("-v", "-o", "/dev/null", "-o", "/dev/null", d.url("/missing"), d.url("/README"))
    err = p.stderr.decode("utf-8", "replace")
    pmtest.check("keep-alive after a 404", "Re-using existing connection" in err
                 or "Reusing existing connection" in err, err[-600:])

    # HTTP/1.0 over TLS gets its answer.
    p = d.curl("--http1.0", "-o", "-", "-w", "\n%{http_code}", path="/README")
    pmtest.check("HTTP/1.0 answered", p.stdout.endswith(b"\n200") and b"pubmirror" in p.stdout,
                 p.stdout[-100:] + p.stderr[-200:])
    ctx = ssl.create_default_context(cafile=d.cert)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.https_port), timeout=10),
                        server_hostname="127.0.0.1")
    s.sendall(b"GET /README HTTP/1.0\r\n\r\n")
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ssl.SSLError):
        pass
    s.close()
    pmtest.check("raw HTTP/1.0 without Host: full answer, then close",
                 out.startswith(b"HTTP/1.") and b" 200 " in out[:20] and b"pubmirror" in out, out[:200])

    # Idle timeout closes an idle keep-alive connection.
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.https_port), timeout=15),
                        server_hostname="127.0.0.1")
    s.sendall(b"HEAD /README HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    t0 = time.time()
    closed = False
    try:
        closed = s.recv(65536) == b""
    except (ConnectionResetError, ssl.SSLError):
        closed = True
    waited = time.time() - t0
    s.close()
    pmtest.check("first answer on the idle connection", first.startswith(b"HTTP/1.1 200"))
    pmtest.check("idle connection closed by the server", closed and waited < 10, waited)

    # A connection that starts a request and stalls is dropped too.
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.https_port), timeout=15),
                        server_hostname="127.0.0.1")
    s.sendall(b"GET /README HTTP/1.1\r\nHost: x\r\n")
    t0 = time.time()
    try:
        got = s.recv(65536)
    except (ConnectionResetError, ssl.SSLError, socket.timeout):
        got = b""
    pmtest.check("slow request dropped", time.time() - t0 < 10 and not got.startswith(b"HTTP/1.1 200"))
    s.close()

    # One request per connection: no stall.
    worst = 0.0
    for i in range(20):
        t0 = time.time()
        p = d.curl("-o", "/dev/null", "-w", "%{http_code}", path="/README")
        worst = max(worst, time.time() - t0)
        if p.stdout != b"200":
            break
    pmtest.check("20 one-request connections each under 1 s", worst < 1.0 and p.stdout == b"200",
                 "worst %.3f s" % worst)
    # The same with a client that leaves Nagle on (curl disables it): the
    # TLS 1.3 handshake used to leave its request waiting for a delayed ACK.
    times = []
    for i in range(20):
        t0 = time.time()
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.https_port), timeout=10),
                            server_hostname="127.0.0.1")
        s.sendall(b"GET /README HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
        times.append(time.time() - t0)
        if not got.startswith(b"HTTP/1.1 200"):
            break
    times.sort()
    pmtest.check("20 Nagle-on TLS 1.3 connections each under 1 s (median %.1f ms)"
                 % (times[len(times) // 2] * 1000), len(times) == 20 and times[-1] < 1.0, times)
pmtest.done()
