"""json_log: one JSON object per line, the same event shape for both
protocols: an HTTPS request, an FTP and an FTPS transfer (complete), a
failed login; each line parses, carries time, event, proto, peer, path,
status and bytes, and never a password."""
import io
import json
import os
import ssl
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt

FILE = "pub/misc/mirrors.txt"


def events(path):
    out, bad = [], []
    try:
        with open(path, "rb") as f:
            for line in f.read().decode("utf-8").splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    bad.append(line)
    except FileNotFoundError:
        pass
    return out, bad


def main():
    with pmtest.Daemon(start=False, sets={"auth_paths": "/private"}) as d:
        jl = os.path.join(d.tmp, "events.json")
        af = os.path.join(d.tmp, "htpasswd")
        with open(af, "w") as f:
            f.write("alice:%s\n" % crypt.crypt("right-pw", crypt.mksalt(crypt.METHOD_SHA512)))
        os.chmod(d.tmp, 0o755)
        os.chmod(af, 0o644)
        d.write_conf({"json_log": jl, "auth_file": af})
        d.start()
        size = os.path.getsize(os.path.join(d.root, FILE))

        r = d.curl("-o", "/dev/null", path="/" + FILE + "?json-probe")
        pmtest.check("HTTPS request", r.returncode == 0, r.stderr)
        d.curl("-o", "/dev/null", "-u", "alice:wrong-pw", path="/private/")
        f = ftplib.FTP(timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "json@example.org")
        f.retrbinary("RETR " + FILE, io.BytesIO().write)
        f.quit()
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        f = ftplib.FTP_TLS(context=ctx, timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "json@example.org")
        f.prot_p()
        f.retrbinary("RETR " + FILE, io.BytesIO().write)
        f.quit()

        end = time.time() + 10
        evs, bad = [], []
        while time.time() < end:
            evs, bad = events(jl)
            kinds = {(e.get("event"), e.get("proto")) for e in evs}
            if {("request", "https"), ("transfer", "ftp"), ("transfer", "ftps"),
                    ("login", "https")} <= kinds:
                break
            time.sleep(0.1)
        pmtest.check("every line is JSON", not bad, bad[:3])
        for want in (("request", "https"), ("transfer", "ftp"), ("transfer", "ftps"),
                     ("login", "https")):
            pmtest.check("event %s/%s logged" % want,
                         any((e.get("event"), e.get("proto")) == want for e in evs),
                         sorted({(e.get("event"), e.get("proto")) for e in evs}))
        for e in evs:
            missing = [k for k in ("time", "event", "proto", "peer") if k not in e]
            if missing:
                pmtest.check("common members present", False, (e, missing))
                break
        else:
            pmtest.check("common members present in every event", bool(evs))
        req = [e for e in evs if e.get("event") == "request" and "json-probe" in e.get("path", "")]
        pmtest.check("HTTPS request: path, status 200, bytes",
                     req and req[0].get("status") == 200 and req[0].get("bytes") == size
                     and req[0].get("peer") == "127.0.0.1", req)
        xf = [e for e in evs if e.get("event") == "transfer"]
        pmtest.check("FTP transfers: path, 226, bytes",
                     len(xf) >= 2 and all(e.get("path") == "/" + FILE and
                                          e.get("status") == 226 and e.get("bytes") == size
                                          for e in xf), xf)
        login = [e for e in evs if e.get("event") == "login"]
        pmtest.check("failed login names the user and status 401",
                     login and login[0].get("user") == "alice" and login[0].get("status") == 401,
                     login)
        with open(jl, "rb") as fh:
            raw = fh.read()
        pmtest.check("never a password", b"wrong-pw" not in raw and b"right-pw" not in raw)
        pmtest.check("times are UTC ISO 8601",
                     all(str(e.get("time", "")).endswith("Z") for e in evs))
    pmtest.done()


if __name__ == "__main__":
    main()
