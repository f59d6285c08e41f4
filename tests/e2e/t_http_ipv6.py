"""HTTPS on IPv6 as on IPv4: a daemon per listener, the same tree, the
access log showing the IPv6 peer."""
import pmtest

with pmtest.Daemon(ipv6=True, http=True, sets={"http_mode": "redirect"}) as d:
    ok6 = pmtest.wait_port(d.https_port, host="::1")
    pmtest.check("HTTPS listens on [::1]", ok6)
    p = d.curl("-o", "-", "-w", "\n%{http_code}", "https://[::1]:%d/README" % d.https_port)
    pmtest.check("GET over IPv6", p.stdout.endswith(b"\n200") and b"pubmirror" in p.stdout,
                 p.stderr[-300:])
    p = d.curl("-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:%d/README" % d.https_port)
    pmtest.check_eq("GET over IPv4", b"200", p.stdout)
    p = d.curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
               "http://[::1]:%d/pub/" % d.http_port)
    pmtest.check_eq("plain HTTP over IPv6 redirects to HTTPS with the IPv6 host",
                    ("301 https://[::1]:%d/pub/" % d.https_port).encode(), p.stdout)
    d.settle(d.access_log)
    with open(d.access_log) as f:
        log = f.read()
    pmtest.check("access log has the IPv6 peer", "\n::1 " in "\n" + log, log[-300:])
pmtest.done()
