"""ftp_tls = require | off, and the data-channel session reuse policy
ftp_tls_reuse = required: ftplib (which never resumes) gets a clear 522
for that transfer and the session goes on; curl and lftp resume and work."""
import io
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402
from ftptest import Raw, tls_ctx  # noqa: E402

FILE = "pub/misc/speedtest-256K.bin"


def main():
    with pmtest.Daemon(sets={"ftp_tls": "require"}) as d:
        r = Raw(d.ftp_port)
        c, t = r.cmd("USER anonymous")
        pmtest.check("require: USER before AUTH is 530 and says to use TLS",
                     c == 530 and "TLS" in t, t)
        c, t = r.cmd("PASS x@y")
        pmtest.check("require: PASS before AUTH is 530", c == 530 and "TLS" in t, t)
        pmtest.check_eq("require: AUTH TLS", 234, r.auth_tls(tls_ctx(d))[0])
        pmtest.check_eq("require: login over TLS", 230, r.login()[0])
        r.code("PBSZ 0")
        r.code("PROT C")
        pmtest.check_eq("require: EPSV", 229, r.cmd("EPSV")[0])
        pmtest.check_eq("require: RETR with PROT C is 521", 521, r.code("RETR /README"))
        r.code("PROT P")
        r.code("TYPE I")
        c1, data, c2 = r.retr_bytes("RETR /README", tls=True)
        with open(os.path.join(d.root, "README"), "rb") as f:
            pmtest.check("require: RETR with PROT P works", data == f.read() and c2 == 226,
                         (c1, c2))
        r.close()
        rc = subprocess.run(["curl", "-sS", "--max-time", "20",
                             "ftp://127.0.0.1:%d/README" % d.ftp_port],
                            capture_output=True, timeout=60)
        pmtest.check("require: plain curl is refused", rc.returncode != 0, rc.stdout[:80])
        rc = subprocess.run(["curl", "-sS", "--max-time", "20", "--ssl-reqd", "--cacert",
                             d.cert, "ftp://127.0.0.1:%d/README" % d.ftp_port],
                            capture_output=True, timeout=60)
        pmtest.check("require: curl --ssl-reqd works", rc.returncode == 0, rc.stderr)

    with pmtest.Daemon(sets={"ftp_tls": "off"}) as d:
        r = Raw(d.ftp_port)
        pmtest.check_eq("off: AUTH TLS refused with 502", 502, r.code("AUTH TLS"))
        c, t = r.cmd("FEAT")
        pmtest.check("off: FEAT does not list AUTH TLS", "AUTH TLS" not in t, t)
        pmtest.check_eq("off: anonymous login still works", 230, r.login()[0])
        r.close()

    with pmtest.Daemon(sets={"ftp_tls_reuse": "required"}) as d:
        with open(os.path.join(d.root, FILE), "rb") as f:
            src = f.read()
        f = ftplib.FTP_TLS(context=tls_ctx(d), timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login()
        f.prot_p()
        try:
            f.retrbinary("RETR " + FILE, lambda b: None)
            pmtest.check("required: ftplib without resumption gets 522", False)
        except ftplib.error_perm as e:
            pmtest.check("required: ftplib without resumption gets 522",
                         str(e).startswith("522") and "resume" in str(e), e)
        pmtest.check("required: the session survives the 522",
                     f.voidcmd("NOOP").startswith("200"))
        pmtest.check_eq("required: SIZE still answers", len(src), f.size(FILE))
        f.quit()

        for extra, label in (([], "TLS 1.3"), (["--tls-max", "1.2"], "TLS 1.2")):
            rc = subprocess.run(["curl", "-sS", "--max-time", "20", "--ssl-reqd", "--cacert",
                                 d.cert] + extra + ["ftp://127.0.0.1:%d/%s" % (d.ftp_port, FILE)],
                                capture_output=True, timeout=60)
            pmtest.check("required: curl resumes and downloads (%s)" % label,
                         rc.returncode == 0 and rc.stdout == src, rc.stderr)
        rc = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", d.cert,
                             "ftps://127.0.0.1:%d/%s" % (d.ftps_port, FILE)],
                            capture_output=True, timeout=60)
        pmtest.check("required: curl on implicit FTPS resumes and downloads",
                     rc.returncode == 0 and rc.stdout == src, rc.stderr)
        rc = subprocess.run(["lftp", "-u", "anonymous,r@example.org",
                             "ftps://127.0.0.1:%d" % d.ftps_port],
                            input=b"set ssl:verify-certificate no\nls pub\n",
                            capture_output=True, timeout=90)
        pmtest.check("required: lftp on implicit FTPS lists", b"misc" in rc.stdout,
                     rc.stderr.decode("utf-8", "replace")[-300:])
        work = tempfile.mkdtemp(prefix="pm-lftp-reuse-")
        script = """set ssl:verify-certificate no
set ftp:ssl-force true
set ftp:ssl-protect-data true
ls pub
get %s
get README
exit
""" % FILE
        rc = subprocess.run(["lftp", "-u", "anonymous,r@example.org",
                             "ftp://127.0.0.1:%d" % d.ftp_port], input=script.encode(),
                            capture_output=True, timeout=90, cwd=work)
        got = os.path.join(work, os.path.basename(FILE))
        pmtest.check("required: lftp resumes and downloads",
                     os.path.exists(got) and open(got, "rb").read() == src,
                     rc.stderr.decode("utf-8", "replace")[-400:])
        pmtest.check("required: lftp listing worked", b"misc" in rc.stdout, rc.stdout[:200])

    with pmtest.Daemon(sets={"ftp_tls_reuse": "preferred"}) as d:
        with open(os.path.join(d.root, FILE), "rb") as f:
            src = f.read()
        f = ftplib.FTP_TLS(context=tls_ctx(d), timeout=15)
        f.connect("127.0.0.1", d.ftp_port)
        f.login()
        f.prot_p()
        out = io.BytesIO()
        f.retrbinary("RETR " + FILE, out.write)
        pmtest.check_eq("preferred: ftplib without resumption works", src, out.getvalue())
        f.quit()
    pmtest.done()


main()
