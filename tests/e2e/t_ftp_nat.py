"""NAT: pasv_address is announced in PASV replies; pasv_address_map gives
clients of a listed network (LAN) the inner address instead."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw  # noqa: E402


def main():
    with pmtest.Daemon(sets={"pasv_address": "192.0.2.7"}) as d:
        r = Raw(d.ftp_port)
        r.login()
        c, t = r.cmd("PASV")
        pmtest.check("pasv_address announced", c == 227 and "(192,0,2,7," in t, t)
        r.close()
        rc = subprocess.run(["curl", "-sS", "--max-time", "20", "--disable-epsv",
                             "--ftp-skip-pasv-ip", "ftp://127.0.0.1:%d/README" % d.ftp_port],
                            capture_output=True, timeout=60)
        with open(os.path.join(d.root, "README"), "rb") as f:
            pmtest.check("the passive port is reachable (client skips the NAT address)",
                         rc.returncode == 0 and rc.stdout == f.read(), rc.stderr)
    sets = {"pasv_address": "192.0.2.7", "pasv_address_map": "127.0.0.0/8=127.0.0.1"}
    with pmtest.Daemon(sets=sets) as d:
        r = Raw(d.ftp_port)
        r.login()
        c, t = r.cmd("PASV")
        pmtest.check("pasv_address_map: a LAN client gets the inner address",
                     c == 227 and "(127,0,0,1," in t, t)
        r.close()
        rc = subprocess.run(["curl", "-sS", "--max-time", "20", "--disable-epsv",
                             "ftp://127.0.0.1:%d/README" % d.ftp_port],
                            capture_output=True, timeout=60)
        pmtest.check("LAN client downloads through the mapped address", rc.returncode == 0,
                     rc.stderr)
    pmtest.done()


main()
