"""The plain-HTTP port: redirect mode (301 to HTTPS with path and query,
host from Host without its port, the HTTPS port), serve mode (public
paths only; protected paths 403, never 401), ACME http-01 tokens from
acme_webroot in both modes, token names validated."""
import http.client
import os
import pmtest


def plain(d, method, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=20)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def setup_acme(d):
    acme = os.path.join(d.tmp, "acme")
    os.makedirs(os.path.join(acme, ".well-known", "acme-challenge"))
    with open(os.path.join(acme, ".well-known", "acme-challenge", "Tok_en-123"), "w") as f:
        f.write("Tok_en-123.thumbprint")
    os.chmod(d.tmp, 0o755)
    for dp, dn, fn in os.walk(acme):
        os.chmod(dp, 0o755)
        for n in fn:
            os.chmod(os.path.join(dp, n), 0o644)
    return os.path.join(acme, ".well-known", "acme-challenge")


for mode in ("redirect", "serve"):
    with pmtest.Daemon(http=True, start=False) as d:
        webroot = setup_acme(d)
        priv = os.path.join(d.root, "private")
        os.mkdir(priv)
        with open(os.path.join(priv, "x.txt"), "w") as f:
            f.write("x")
        af = os.path.join(d.tmp, "htpasswd")
        with open(af, "w") as f:
            f.write("u:$6$abcdefgh$ODGZZOoTw2j8/oVAPnRRxjEjcjLeGTdjvfYdYxB0l1o5.mXf1zmXmGqQFCv6ebaMsiC9hYlAN6wp/mvXxq4NH0\n")
        os.chmod(af, 0o644)
        d.write_conf({"http_mode": mode, "acme_webroot": webroot, "auth_paths": "/private",
                      "auth_file": af})
        d.start()
        pmtest.wait_port(d.http_port)
        r, body = plain(d, "GET", "/.well-known/acme-challenge/Tok_en-123", {"Host": "example.org"})
        pmtest.check("%s: ACME token served" % mode, r.status == 200 and body == b"Tok_en-123.thumbprint",
                     (r.status, body[:100]))
        for bad in ("../../../etc/passwd", "..%2f..%2fetc%2fpasswd", "a.b", "nope", "%00", ""):
            r, body = plain(d, "GET", "/.well-known/acme-challenge/" + bad, {"Host": "example.org"})
            pmtest.check("%s: bad token %r refused" % (mode, bad), r.status in (400, 404), r.status)
        if mode == "redirect":
            r, body = plain(d, "GET", "/pub/docs/?C=M;O=D", {"Host": "example.org:8080"})
            pmtest.check_eq("301", 301, r.status)
            pmtest.check_eq("Location: host without port, HTTPS port, path and query",
                            "https://example.org:%d/pub/docs/?C=M;O=D" % d.https_port,
                            r.getheader("Location"))
            r, body = plain(d, "GET", "/private/x.txt", {"Host": "[::1]:80"})
            pmtest.check_eq("protected path redirects too (never 401)", 301, r.status)
            pmtest.check_eq("IPv6 Host", "https://[::1]:%d/private/x.txt" % d.https_port,
                            r.getheader("Location"))
            r, body = plain(d, "GET", "/", {"Host": "bad host!"})
            pmtest.check_eq("invalid Host: 400", 400, r.status)
            p = d.curl("-L", "-o", "/dev/null", "-w", "%{http_code} %{url_effective}",
                       "http://127.0.0.1:%d/README" % d.http_port)
            pmtest.check("curl -L follows to HTTPS", p.stdout.startswith(b"200 https://"), p.stdout)
            r, body = plain(d, "GET", "/README")
            pmtest.check("no HSTS on plain HTTP", r.getheader("Strict-Transport-Security") is None)
        else:
            r, body = plain(d, "GET", "/README")
            pmtest.check("serve: public file over HTTP", r.status == 200 and b"pubmirror" in body)
            r, body = plain(d, "GET", "/pub/")
            pmtest.check("serve: listing over HTTP", r.status == 200 and b"<table" in body)
            r, body = plain(d, "GET", "/private/x.txt", {"Authorization": "Basic YTpi"})
            pmtest.check_eq("serve: protected path 403, never 401", 403, r.status)
            pmtest.check("serve: no WWW-Authenticate", r.getheader("WWW-Authenticate") is None)
            r, body = plain(d, "GET", "/README", {"Range": "bytes=0-9"})
            pmtest.check("serve: range over plain HTTP (sendfile path)", r.status == 206 and len(body) == 10)
            p = d.curl("-o", "/dev/null", "-w", "%{http_code}", "--http1.0",
                       "http://127.0.0.1:%d/README" % d.http_port)
            pmtest.check_eq("serve: HTTP/1.0", b"200", p.stdout)
pmtest.done()
