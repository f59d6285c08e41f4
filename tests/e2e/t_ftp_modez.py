"""MODE Z (deflate on the data channel): a raw-socket client that inflates
the stream, plain and under TLS, with TYPE A conversion and REST, and
lftp (which uses MODE Z by default when FEAT lists it)."""
import filecmp
import os
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, wide_pasv  # noqa: E402


def main():
    with pmtest.Daemon(sets=wide_pasv()) as d:
        with open(os.path.join(d.root, "README"), "rb") as f:
            readme = f.read()
        with open(os.path.join(d.root, "pub/misc/speedtest-256K.bin"), "rb") as f:
            blob = f.read()
        for tls in (False, True):
            tag = "TLS" if tls else "plain"
            r = Raw(d.ftp_port)
            r.login_prot(tls)
            pmtest.check_eq("%s: MODE Z" % tag, 200, r.code("MODE Z"))
            r.code("TYPE I")
            c1, data, c2 = r.retr_bytes("RETR /pub/misc/speedtest-256K.bin", tls)
            try:
                out = zlib.decompress(data)
            except zlib.error as e:
                out = repr(e).encode()
            pmtest.check_eq("%s: binary RETR inflates to the file" % tag, blob, out)
            pmtest.check_eq("%s: 150/226" % tag, (150, 226), (c1, c2))
            r.code("TYPE A")
            c1, data, c2 = r.retr_bytes("RETR /README", tls)
            pmtest.check_eq("%s: TYPE A + MODE Z gives CRLF text" % tag,
                            readme.replace(b"\n", b"\r\n"), zlib.decompress(data))
            r.code("TYPE I")
            r.code("OPTS MODE Z LEVEL 1")
            r.code("REST 1000")
            c1, data, c2 = r.retr_bytes("RETR /pub/misc/speedtest-256K.bin", tls)
            pmtest.check_eq("%s: REST + MODE Z level 1" % tag, blob[1000:], zlib.decompress(data))
            c1, data, c2 = r.retr_bytes("MLSD /pub", tls)
            pmtest.check("%s: MLSD under MODE Z" % tag, b"type=dir" in zlib.decompress(data))
            pmtest.check_eq("%s: MODE S" % tag, 200, r.code("MODE S"))
            c1, data, c2 = r.retr_bytes("RETR /README", tls)
            pmtest.check_eq("%s: back to MODE S" % tag, readme, data)
            r.code("QUIT")
            r.close()

        work = tempfile.mkdtemp(prefix="pm-lftp-z-")
        script = """set ssl:verify-certificate no
set ftp:ssl-force true
set ftp:ssl-protect-data true
set ftp:use-mode-z true
debug 9
get pub/misc/speedtest-256K.bin
get README
exit
"""
        r = subprocess.run(["lftp", "-u", "anonymous,z@example.org",
                            "ftp://127.0.0.1:%d" % d.ftp_port], input=script.encode(),
                           capture_output=True, timeout=90, cwd=work)
        err = r.stderr.decode("utf-8", "replace")
        pmtest.check("lftp sent MODE Z", "---> MODE Z" in err, err[-500:])
        pmtest.check("lftp MODE Z over TLS: binary file equal",
                     filecmp.cmp(os.path.join(work, "speedtest-256K.bin"),
                                 os.path.join(d.root, "pub/misc/speedtest-256K.bin"),
                                 shallow=False))
        pmtest.check("lftp MODE Z over TLS: text file equal",
                     filecmp.cmp(os.path.join(work, "README"),
                                 os.path.join(d.root, "README"), shallow=False))
    pmtest.done()


main()
