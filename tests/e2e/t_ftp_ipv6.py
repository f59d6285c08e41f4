"""IPv6 control connections: EPSV and EPRT work, PASV and EPSV 1 get a clear
refusal (RFC 2428), PORT cannot name an IPv6 client."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw  # noqa: E402


def main():
    with pmtest.Daemon(ipv6=True) as d:
        r = Raw(d.ftp_port, host="::1")
        pmtest.check_eq("IPv6 greeting", 220, r.greeting[0])
        r.login()
        c, t = r.cmd("PASV")
        pmtest.check("PASV on IPv6: 522 naming EPSV", c == 522 and "EPSV" in t, t)
        pmtest.check_eq("EPSV 1 on IPv6: 522", 522, r.code("EPSV 1"))
        pmtest.check_eq("EPSV 2 on IPv6: 229", 229, r.code("EPSV 2"))
        pmtest.check_eq("PORT from an IPv6 session: refused", 500,
                        r.code("PORT 127,0,0,1,200,1"))
        pmtest.check_eq("EPRT |2|::1|port|: 200", 200, r.code("EPRT |2|::1|50001|"))
        r.code("TYPE I")
        c1, data, c2 = r.retr_bytes("RETR /README")
        with open(os.path.join(d.root, "README"), "rb") as f:
            pmtest.check("RETR over EPSV on ::1", data == f.read() and c2 == 226, (c1, c2))
        r.login_prot(True)
        r.code("TYPE I")
        c1, data, c2 = r.retr_bytes("MLSD /pub", tls=True)
        pmtest.check("MLSD over TLS on ::1", b"type=dir" in data and c2 == 226, (c1, c2))
        r.close()
    pmtest.done()


main()
