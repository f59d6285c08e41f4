"""FTP protocol conformance: the exact reply code of every command, over a
raw socket (table-driven), and the session survives every refusal.

Raw and wide_pasv live in ftptest.py (re-exported here for older imports)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
from ftptest import Raw, wide_pasv  # noqa: E402,F401


# (command, expected code) in order on one logged-in session
TABLE = [
    ("SYST", 215),
    ("NOOP", 200),
    ("FEAT", 211),
    ("HELP", 214),
    ("HELP RETR", 214),
    ("SITE HELP", 214),
    ("SITE CHMOD 777 README", 550),
    ("SITE FOO", 500),
    ("ACCT x", 502),
    ("REIN", 502),
    ("SMNT /", 502),
    ("PWD", 257),
    ("XPWD", 257),
    ("CWD pub", 250),
    ("XCWD hello", 250),
    ("CDUP", 250),
    ("XCUP", 250),
    ("CWD /nonexistent", 550),
    ("CWD /README", 550),
    ("CWD ../../..", 250),   # clamps at the root? no: refused or root
    ("TYPE I", 200),
    ("TYPE A", 200),
    ("TYPE A N", 200),
    ("TYPE L 8", 200),
    ("TYPE E", 504),
    ("TYPE L 7", 504),
    ("TYPE X", 501),
    ("TYPE", 501),
    ("MODE S", 200),
    ("MODE B", 504),
    ("MODE C", 504),
    ("MODE Z", 200),
    ("MODE S", 200),
    ("MODE Q", 501),
    ("STRU F", 200),
    ("STRU R", 504),
    ("STRU P", 504),
    ("ALLO 100", 202),
    ("REST 0", 350),
    ("REST 18446744073709551615", 350),
    ("REST 18446744073709551616", 501),
    ("REST -1", 501),
    ("REST 0", 350),
    ("SIZE /README", 213),
    ("SIZE /pub", 550),
    ("SIZE /missing", 550),
    ("MDTM /README", 213),
    ("MDTM /pub", 550),
    ("MDTM 20200101000000 /README", 550),
    ("MLST /README", 250),
    ("MLST", 250),
    ("MLST /missing", 550),
    ("STAT", 211),
    ("STAT /pub", 213),
    ("STAT /missing", 550),
    ("OPTS UTF8 ON", 200),
    ("OPTS MLST type;size;", 200),
    ("OPTS MLST type;size;modify;perm;unique;", 200),
    ("OPTS HASH SHA-512", 200),
    ("OPTS HASH", 200),
    ("OPTS HASH FOO", 501),
    ("OPTS HASH SHA-256", 200),
    ("OPTS MODE Z LEVEL 9", 200),
    ("OPTS MODE Z LEVEL 99", 501),
    ("OPTS FOO", 501),
    ("CLNT test-suite 1.0", 200),
    ("HOST example.org", 503),  # after login
    ("AUTH FOO", 504),
    ("PBSZ 0", 503),            # before AUTH
    ("PROT P", 503),
    # RFC 4217 section 6: CCC on an unprotected control connection: 533
    ("CCC", 533),
    ("STOR x", 550),
    ("STOU", 550),
    ("APPE x", 550),
    ("DELE README", 550),
    ("MKD d", 550),
    ("XMKD d", 550),
    ("RMD pub", 550),
    ("XRMD pub", 550),
    ("RNFR README", 550),
    ("RNTO y", 503),
    ("MFMT 20200101000000 README", 550),
    ("MFF modify=20200101000000; README", 550),
    ("RETR /README", 425),       # no data channel yet
    ("LIST", 425),
    ("EPSV 2", 522),             # IPv6 on an IPv4 connection
    ("EPSV 3", 501),
    ("PORT 1,2,3", 501),
    ("PORT 10,0,0,1,4,1", 500),  # not the client's address
    ("PORT 127,0,0,1,0,21", 500),  # privileged port
    ("EPRT |3|::1|2000|", 522),
    ("EPRT |1|127.0.0.1|21|", 500),
    ("EPRT garbage", 501),
    ("HASH /README", 213),
    ("HASH /pub", 553),
    ("HASH /missing", 550),
    ("XYZZY", 500),
    ("ABOR", 225),
    ("NOOP", 200),
]


def main():
    d = pmtest.Daemon(sets=wide_pasv(), start=False)
    # A file too big to fit the socket buffers: a transfer nobody reads
    # stays busy (sparse, nothing to write but its length).
    with open(os.path.join(d.root, "big.bin"), "wb") as f:
        f.truncate(64 << 20)
    d.start()
    with d:
        r = Raw(d.ftp_port)
        pmtest.check_eq("greeting 220", 220, r.greeting[0])
        pmtest.check_eq("LIST before login: 530", 530, r.code("LIST"))
        pmtest.check_eq("HOST before USER: 220", 220, r.code("HOST 127.0.0.1"))
        pmtest.check_eq("PASS before USER: 503", 503, r.code("PASS x"))
        pmtest.check_eq("USER bob (no auth_file): 530", 530, r.code("USER bob"))
        pmtest.check_eq("USER anonymous: 331", 331, r.code("USER anonymous"))
        pmtest.check_eq("PASS: 230", 230, r.code("PASS me@example.org"))
        for cmd, want in TABLE:
            got, text = r.cmd(cmd)
            if cmd == "CWD ../../..":
                pmtest.check("%s: 250 or 550" % cmd, got in (250, 550), text)
                r.code("CWD /")
                continue
            pmtest.check_eq("%s -> %d" % (cmd, want), want, got)
        # 257 doubles quotes; PWD is "/"
        c, t = r.cmd("PWD")
        pmtest.check_eq("PWD text", '257 "/" is the current directory', t)
        # MLST facts
        c, t = r.cmd("MLST /README")
        pmtest.check("MLST facts", re.search(
            r"^ type=file;size=\d+;modify=\d{14};perm=r;unique=[0-9a-fA-FU]+; /README$",
            t, re.M) is not None, t)
        # FEAT lists what clients look for
        c, t = r.cmd("FEAT")
        for f in ("AUTH TLS", "PBSZ", "PROT", "EPSV", "MLST", "MODE Z", "HASH", "SIZE",
                  "MDTM", "REST STREAM", "RANG STREAM", "UTF8"):
            pmtest.check("FEAT lists %s" % f, (" " + f) in t, t)
        # REST past the end, MLSD on a file, then EPSV ALL
        size = int(r.cmd("SIZE /README")[1].split()[1])
        r.code("TYPE I")
        addr = r.pasv_addr()
        r.code("REST %d" % (size + 1))
        pmtest.check_eq("RETR after REST past EOF: 554", 554, r.code("RETR /README"))
        addr = r.pasv_addr()
        pmtest.check_eq("MLSD on a file: 501", 501, r.code("MLSD /README"))
        c1, data, c2 = r.retr_bytes("RETR /README")
        with open(os.path.join(d.root, "README"), "rb") as f:
            src = f.read()
        pmtest.check_eq("RETR 150/226", (150, 226), (c1, c2))
        pmtest.check("RETR bytes equal", data == src)
        r.code("REST 10")
        c1, data, c2 = r.retr_bytes("RETR /README")
        pmtest.check("RETR after REST 10 gives the tail", data == src[10:])
        c1, data, c2 = r.retr_bytes("NLST /pub")
        pmtest.check_eq("NLST names usable by RETR",
                        sorted(["/pub/KEYS.asc", "/pub/docs", "/pub/hello", "/pub/misc",
                                "/pub/releases"]),
                        sorted(data.decode().split("\r\n")[:-1]))
        r.code("OPTS MLST type;size;")
        c1, data, c2 = r.retr_bytes("MLSD /pub")
        lines = data.decode().split("\r\n")[:-1]
        pmtest.check("OPTS MLST type;size; limits MLSD facts",
                     lines and all(re.match(r"^type=\w+;size=\d+; \S", x) for x in lines), lines)
        c, t = r.cmd("MLST /README")
        pmtest.check("OPTS MLST limits MLST facts",
                     re.search(r"^ type=file;size=\d+; /README$", t, re.M) is not None, t)
        r.code("OPTS MLST type;size;modify;perm;unique;")
        # RFC 959 4.1.1 (CDUP): the replies of CWD; at the root, the root's
        # parent is the root (vsftpd, ProFTPD): 250 and PWD stays "/"
        r.code("CWD /")
        pmtest.check_eq("RFC 959 4.1.1: CDUP at the root -> 250", 250, r.code("CDUP"))
        pmtest.check_eq("RFC 959 4.1.1: XCUP at the root -> 250", 250, r.code("XCUP"))
        pmtest.check_eq("CDUP at the root stays at the root",
                        '257 "/" is the current directory', r.cmd("PWD")[1])
        # draft-bryan-ftp-range-08 section 3: RANG start end (inclusive)
        c, t = r.cmd("RANG 10 19")
        pmtest.check_eq("RANG 10 19 -> 350 Restarting at 10. Ending byte at 19.",
                        "350 Restarting at 10. Ending byte at 19.", t)
        c1, data, c2 = r.retr_bytes("RETR /README")
        pmtest.check_eq("RETR after RANG 10 19 gives bytes 10..19", src[10:20], data)
        pmtest.check_eq("RANG: the range is used once", 0, r.code("RANG 0 4") - 350)
        c1, data, c2 = r.retr_bytes("RETR /README")
        pmtest.check_eq("RANG 0 4 gives the first 5 bytes", src[:5], data)
        r.code("RANG 3 7")
        pmtest.check_eq("RANG 1 0 clears the range: 350", 350, r.code("RANG 1 0"))
        c1, data, c2 = r.retr_bytes("RETR /README")
        pmtest.check("after RANG 1 0 RETR sends the whole file", data == src)
        r.code("RANG 3 7")
        r.code("REST 12")
        c1, data, c2 = r.retr_bytes("RETR /README")
        pmtest.check("REST after RANG replaces the range", data == src[12:])
        r.code("RANG 2 %d" % (size + 100))
        c1, data, c2 = r.retr_bytes("RETR /README")
        pmtest.check("RANG past the end stops at the end", data == src[2:])
        pmtest.check_eq("RANG with one number: 501", 501, r.code("RANG 5"))
        pmtest.check_eq("RANG start after end: 501", 501, r.code("RANG 9 3"))
        pmtest.check_eq("RANG not numbers: 501", 501, r.code("RANG a b"))
        r.code("RANG 0 9")
        c, t = r.cmd("HASH /README")
        import hashlib
        pmtest.check("HASH after RANG 0 9 hashes bytes 0-9",
                     c == 213 and (" 0-9 %s " % hashlib.sha256(src[:10]).hexdigest()) in t, t)
        # RFC 959 4.1.3: ABOR is served ahead of the transfer it aborts,
        # even queued behind another command (NOOP before ABOR in one packet)
        addr = r.pasv_addr()
        dc = r.data_conn(addr)
        pmtest.check_eq("RETR big.bin: 150", 150, r.code("RETR /big.bin"))
        r.sock.sendall(b"NOOP\r\nABOR\r\n")
        got = [r.reply()[0] for _ in range(3)]
        pmtest.check_eq("pipelined NOOP, ABOR during a transfer: 426, 226, then 200",
                        [426, 226, 200], got)
        dc.close()
        # Telnet IP + Synch before ABOR (IAC IP IAC DM), as lftp sends it
        r.send(b"\xff\xf4\xff\xf2ABOR")
        pmtest.check_eq("ABOR after Telnet IAC IP/DM: 225", 225, r.reply()[0])
        r.send(b"\xff\xf4\xffABOR")  # the DM went out of band
        pmtest.check_eq("ABOR after IAC IP and a lone IAC: 225", 225, r.reply()[0])
        pmtest.check_eq("EPSV ALL: 200", 200, r.code("EPSV ALL"))
        pmtest.check_eq("PASV after EPSV ALL: 503", 503, r.code("PASV"))
        pmtest.check_eq("PORT after EPSV ALL: 503", 503, r.code("PORT 127,0,0,1,200,1"))
        pmtest.check_eq("EPRT after EPSV ALL: 503", 503, r.code("EPRT |1|127.0.0.1|51201|"))
        pmtest.check_eq("EPSV after EPSV ALL: 229", 229, r.code("EPSV"))
        pmtest.check_eq("session alive after all refusals", 200, r.code("NOOP"))
        pmtest.check_eq("QUIT: 221", 221, r.code("QUIT"))
        r.close()

        # PASV on IPv4 gives a 227 with the loopback address
        r = Raw(d.ftp_port)
        r.login()
        c, t = r.cmd("PASV")
        pmtest.check("PASV: 227 (127,0,0,1,...)", c == 227 and "(127,0,0,1," in t, t)
        # SECURITY: nothing was written under the root
        found = []
        for top, dirs, files in os.walk(d.root):
            found += [f for f in files if f in ("x", "y", "d")]
            found += [x for x in dirs if x == "d"]
        pmtest.check_eq("nothing written under the root", [], found)
        r.close()
    pmtest.done()


if __name__ == "__main__":
    main()
