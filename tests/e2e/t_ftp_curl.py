"""curl and wget against the FTP server: plain, explicit TLS (--ssl-reqd),
implicit FTPS, resume (-C -), the CWD methods, EPSV and PASV, and IPv6."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import wide_pasv  # noqa: E402

FILE = "pub/hello/hello-2.12.tar.gz"


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "30"] + list(args),
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def main():
    work = tempfile.mkdtemp(prefix="pm-curl-")
    with pmtest.Daemon(ipv6=True, sets=wide_pasv()) as d:
        with open(os.path.join(d.root, FILE), "rb") as f:
            src = f.read()
        base = "ftp://127.0.0.1:%d/" % d.ftp_port
        tls = ["--cacert", d.cert]

        rc, out, err = curl(base + FILE)
        pmtest.check("plain RETR", rc == 0 and out == src, err)
        rc, out, err = curl(base + "pub/")
        pmtest.check("plain LIST", rc == 0 and b"hello" in out and b"dr-xr-xr-x" in out, err)
        rc, out, err = curl("-l", base + "pub/hello/")
        pmtest.check("NLST (curl -l)", rc == 0 and b"hello-2.12.tar.gz\r\n" in out.replace(
            b"\r\n", b"\n").replace(b"\n", b"\r\n"), err)

        rc, out, err = curl("--ssl-reqd", *tls, base + FILE)
        pmtest.check("explicit TLS (--ssl-reqd) RETR", rc == 0 and out == src, err)
        rc, out, err = curl("--ssl-reqd", *tls, "--tls-max", "1.2", base + FILE)
        pmtest.check("explicit TLS 1.2 RETR", rc == 0 and out == src, err)
        rc, out, err = curl("--ssl-reqd", *tls, "--ftp-ssl-control", base + "pub/")
        pmtest.check("--ftp-ssl-control (clear data) LIST", rc == 0 and b"hello" in out, err)

        rc, out, err = curl(*tls, "ftps://127.0.0.1:%d/%s" % (d.ftps_port, FILE))
        pmtest.check("implicit FTPS RETR", rc == 0 and out == src, err)
        rc, out, err = curl(*tls, "ftps://127.0.0.1:%d/pub/" % d.ftps_port)
        pmtest.check("implicit FTPS LIST", rc == 0 and b"hello" in out, err)

        part = os.path.join(work, "part")
        with open(part, "wb") as f:
            f.write(src[:1000])
        rc, out, err = curl("-C", "-", "-o", part, base + FILE)
        with open(part, "rb") as f:
            pmtest.check("resume with -C -", rc == 0 and f.read() == src, err)
        with open(part, "wb") as f:
            f.write(src[:777])
        rc, out, err = curl("--ssl-reqd", *tls, "-C", "-", "-o", part, base + FILE)
        with open(part, "rb") as f:
            pmtest.check("resume with -C - over TLS", rc == 0 and f.read() == src, err)

        for m in ("singlecwd", "nocwd", "multicwd"):
            rc, out, err = curl("--ftp-method", m, base + FILE)
            pmtest.check("--ftp-method %s" % m, rc == 0 and out == src, err)

        rc, out, err = curl("--disable-epsv", "-v", base + FILE)
        pmtest.check("PASV (--disable-epsv)", rc == 0 and out == src and "PASV" in err, err[-300:])
        rc, out, err = curl("-v", base + FILE)
        pmtest.check("EPSV", rc == 0 and out == src and "EPSV" in err, err[-300:])
        rc, out, err = curl("-P", "-", base + FILE)
        pmtest.check("active mode (-P -)", rc == 0 and out == src, err)
        # Active mode over TLS is covered with lftp and ftplib: curl 7.87/7.88
        # never starts TLS on an accepted data connection (curl/curl#10666).

        v6 = "ftp://[::1]:%d/" % d.ftp_port
        rc, out, err = curl("-g", v6 + FILE)
        pmtest.check("IPv6 [::1] EPSV RETR", rc == 0 and out == src, err)
        rc, out, err = curl("-g", "--ssl-reqd", *tls, v6 + FILE)
        pmtest.check("IPv6 [::1] explicit TLS RETR", rc == 0 and out == src, err)
        rc, out, err = curl("-g", "-P", "-", v6 + FILE)
        pmtest.check("IPv6 [::1] active (EPRT) RETR", rc == 0 and out == src, err)

        # wget
        out = os.path.join(work, "wget.out")
        r = subprocess.run(["wget", "-q", "-O", out, base + FILE], capture_output=True,
                           timeout=60)
        with open(out, "rb") as f:
            pmtest.check("wget ftp://", r.returncode == 0 and f.read() == src, r.stderr)
        os.unlink(out)
        r = subprocess.run(["wget", "-q", "--ca-certificate", d.cert, "-O", out,
                            "ftps://127.0.0.1:%d/%s" % (d.ftp_port, FILE)],
                           capture_output=True, timeout=60)
        got = open(out, "rb").read() if os.path.exists(out) else b""
        pmtest.check("wget ftps:// (explicit)", r.returncode == 0 and got == src, r.stderr)
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run(["wget", "-q", "--ftps-implicit", "--ca-certificate", d.cert,
                            "-O", out, "ftps://127.0.0.1:%d/%s" % (d.ftps_port, FILE)],
                           capture_output=True, timeout=60)
        got = open(out, "rb").read() if os.path.exists(out) else b""
        pmtest.check("wget ftps:// (implicit)", r.returncode == 0 and got == src, r.stderr)
    pmtest.done()


main()
