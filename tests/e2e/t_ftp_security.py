"""FTP security: a passive port is only for the control connection's peer
(a connection from 127.0.0.2 is dropped while the real client still gets
its file), no PORT/EPRT bounce, no path escapes, the session survives
every refusal, auth_paths are invisible to anonymous sessions."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, htpasswd, read_all, wide_pasv  # noqa: E402


def main():
    auth = htpasswd("alice", "s3cret-pass")
    with pmtest.Daemon(sets=dict(wide_pasv(), auth_paths="/pub/releases", auth_file=auth)) as d:
        with open(os.path.join(d.root, "README"), "rb") as f:
            readme = f.read()
        r = Raw(d.ftp_port)
        r.login()
        r.code("TYPE I")

        # port theft: 127.0.0.2 connects first to the passive port
        addr = r.pasv_addr()
        thief = socket.socket()
        thief.settimeout(5)
        thief.bind(("127.0.0.2", 0))
        thief.connect(addr)
        time.sleep(0.3)
        good = r.data_conn(addr)
        c1, _ = r.cmd("RETR /README")
        stolen = b""
        try:
            stolen = thief.recv(65536)
        except OSError:
            pass
        data = read_all(good) if c1 == 150 else b""
        good.close()
        c2 = r.reply()[0]
        thief.close()
        pmtest.check_eq("the thief from 127.0.0.2 gets nothing", b"", stolen)
        pmtest.check_eq("the real client still gets its file", readme, data)
        pmtest.check_eq("150/226 for the real client", (150, 226), (c1, c2))
        pmtest.check("the refused data connection is logged",
                     d.wait_log("data connection from 127.0.0.2"), d.log_text()[-500:])

        # PASV on 127.0.0.1: a connection from 127.0.0.2 after the command
        addr = r.pasv_addr()
        c1, _ = r.cmd("RETR /README")
        thief = socket.socket()
        thief.settimeout(5)
        thief.bind(("127.0.0.2", 0))
        thief.connect(addr)
        try:
            stolen = thief.recv(65536)
        except OSError:
            stolen = b""
        thief.close()
        good = r.data_conn(addr)
        data = read_all(good)
        good.close()
        pmtest.check_eq("thief after RETR gets nothing", b"", stolen)
        pmtest.check_eq("real client after the thief gets the file", readme, data)
        pmtest.check_eq("226 after the thief", 226, r.reply()[0])

        # no bounce
        pmtest.check_eq("PORT to another address refused", 500,
                        r.code("PORT 127,0,0,2,200,10"))
        pmtest.check_eq("PORT to 10.0.0.1 refused", 500, r.code("PORT 10,0,0,1,200,10"))
        pmtest.check_eq("PORT to port 21 refused", 500, r.code("PORT 127,0,0,1,0,21"))
        pmtest.check_eq("PORT to port 1023 refused", 500, r.code("PORT 127,0,0,1,3,255"))
        pmtest.check_eq("EPRT to another address refused", 500,
                        r.code("EPRT |1|127.0.0.2|50000|"))
        pmtest.check_eq("EPRT to ::1 from an IPv4 session refused", 500,
                        r.code("EPRT |2|::1|50000|"))
        pmtest.check_eq("EPRT to port 80 refused", 500, r.code("EPRT |1|127.0.0.1|80|"))

        # path escapes
        for p in ("../../../etc/passwd", "/../etc/passwd", "..", "pub/../../etc",
                  "/etc/passwd", "pub/..\\..\\etc", "a\x01b"):
            c = r.code("SIZE " + p)
            pmtest.check("SIZE %r refused (550)" % p, c == 550, c)
        pmtest.check_eq("CWD .. at the root stays at the root", 257, r.cmd("PWD")[0])
        c = r.code("CWD ../..")
        pmtest.check("CWD ../.. refused or clamped", c in (250, 550), c)
        pmtest.check_eq("PWD is still /", '257 "/" is the current directory', r.cmd("PWD")[1])

        # a name with CR/LF never reaches the wire: the command line ends at LF
        r.send(b"SIZE /README\r\nNOOP")
        pmtest.check_eq("pipelined SIZE", 213, r.reply()[0])
        pmtest.check_eq("then NOOP", 200, r.reply()[0])

        # auth_paths are invisible to anonymous sessions
        c1, data, c2 = r.retr_bytes("NLST /pub")
        pmtest.check("protected dir absent from NLST", b"releases" not in data, data)
        c1, data, c2 = r.retr_bytes("LIST /pub")
        pmtest.check("protected dir absent from LIST", b"releases" not in data, data)
        c1, data, c2 = r.retr_bytes("MLSD /pub")
        pmtest.check("protected dir absent from MLSD", b"releases" not in data, data)
        pmtest.check_eq("CWD into protected: 550", 550, r.code("CWD /pub/releases"))
        pmtest.check_eq("SIZE under protected: 550", 550,
                        r.code("SIZE /pub/releases/1.0/sample-1.0.tar.gz"))
        pmtest.check_eq("MLST protected: 550", 550, r.code("MLST /pub/releases"))
        addr = r.pasv_addr()
        pmtest.check_eq("RETR under protected: 550", 550,
                        r.code("RETR /pub/releases/1.0/sample-1.0.tar.gz"))
        c, t = r.cmd("STAT /pub")
        pmtest.check("protected dir absent from STAT", c == 213 and "releases" not in t, t)

        pmtest.check_eq("the session survived every refusal", 200, r.code("NOOP"))
        r.close()

        # an HTTP request on the FTP port closes the connection
        s = socket.create_connection(("127.0.0.1", d.ftp_port), timeout=5)
        s.recv(1024)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        try:
            while True:
                chunk = s.recv(1024)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        s.close()
        pmtest.check("HTTP request: 421 and closed", buf.startswith(b"421"), buf)

        # an over-long command line closes the session with 500
        r = Raw(d.ftp_port)
        r.send(b"NOOP " + b"x" * 3000)
        c = r.reply()[0]
        pmtest.check_eq("over-long line: 500", 500, c)
        pmtest.check_eq("then closed", 0, r.reply()[0])
        r.close()

        # too many bad commands before login
        r = Raw(d.ftp_port)
        codes = []
        try:
            for i in range(12):
                codes.append(r.code("BOGUS%d" % i))
        except OSError:
            pass
        codes.append(r.reply()[0])
        pmtest.check("bad commands before login end with 421", 421 in codes, codes)
        r.close()
    pmtest.done()


main()
