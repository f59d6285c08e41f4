"""A mirror redirector's scan: FEAT, then MLSD of every directory and MDTM
of every file over FTP must equal the HTTPS view (JSON listings and
Last-Modified), because both come from the same index snapshot."""
import calendar
import email.utils
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402
from ftptest import tls_ctx, wide_pasv  # noqa: E402


def https_json(d, path):
    r = d.curl("-H", "Accept: application/json", path=urllib.parse.quote(path))
    return json.loads(r.stdout)


def main():
    with pmtest.Daemon(sets=wide_pasv()) as d:
        ctx = tls_ctx(d)
        f = ftplib.FTP_TLS(context=ctx, timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login()
        f.prot_p()
        feat = f.sendcmd("FEAT")
        pmtest.check("FEAT lists MLST", "MLST" in feat, feat)
        todo = ["/"]
        dirs = files = 0
        mismatch = []
        while todo:
            path = todo.pop()
            ftp = {n: e for n, e in f.mlsd(path)}
            http = {e["name"]: e for e in https_json(d, path if path.endswith("/") else path + "/")}
            dirs += 1
            if sorted(ftp) != sorted(http):
                mismatch.append((path, sorted(ftp), sorted(http)))
                continue
            for name, e in ftp.items():
                h = http[name]
                full = path.rstrip("/") + "/" + name
                if e["type"] == "dir":
                    if h["type"] != "directory":
                        mismatch.append((full, "type", h["type"]))
                    todo.append(full)
                    continue
                files += 1
                mdtm = f.voidcmd("MDTM " + full).split()[1]
                http_t = calendar.timegm(email.utils.parsedate(h["mtime"]))
                if (int(e["size"]) != h["size"] or e["modify"] != mdtm or
                        time.strftime("%Y%m%d%H%M%S", time.gmtime(http_t)) != mdtm):
                    mismatch.append((full, e, h, mdtm))
        f.quit()
        pmtest.check("scanned the whole tree (%d dirs, %d files)" % (dirs, files),
                     dirs >= 5 and files >= 10, (dirs, files))
        pmtest.check_eq("FTP MLSD/MDTM view equals the HTTPS view", [], mismatch)
    pmtest.done()


main()
