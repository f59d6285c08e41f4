"""Hostile FTP clients, while two good clients download a 200 MB file over
FTPS and HTTPS: PORT/EPRT bounces, passive port theft from another address,
commands before login, PBSZ/PROT before AUTH, a 100 KB command line, 10,000
garbage lines (before and after login), an HTTP request on the FTP port.
Each gets its exact answer; afterwards the downloads are byte-exact, the
daemon serves, its memory is back and the tree is unchanged.  # pm-tsan"""
import hashlib
import os
import socket
import time

import hostile
import pmtest
from hostile import check, check_eq

README = "README"


def one_reply(c, command, code, text, label=None):
    got, lines = c.cmd(command)
    raw = b"".join(lines)
    label = label or command
    check_eq("FTP %r answers %d" % (label[:60], code), code, got)
    check("FTP %r says %r" % (label[:60], text), text.encode() in raw, raw[:200])


def epsv_port(c):
    code, lines = c.cmd("EPSV")
    check_eq("EPSV answers 229", 229, code)
    return int(lines[0].split(b"|||")[1].split(b"|")[0])


def before_login(d):
    # Each refused command counts as a bad command: the 11th closes (421).
    c = hostile.Ctl(d, src="127.0.0.3")
    check_eq("greeting", 220, c.reply()[0])
    for command in ("LIST", "NLST", "RETR README", "PASV", "EPSV", "PORT 127,0,0,3,200,10",
                    "CWD pub", "SIZE README", "MLSD"):
        one_reply(c, command, 530, "Please log in with USER and PASS first",
                  "before login: " + command)
    one_reply(c, "PBSZ 0", 503, "PBSZ needs AUTH TLS first", "PBSZ before AUTH")
    one_reply(c, "PROT P", 421, "Too many bad commands before login; closing",
              "11th refused command before login")
    check("session closed after 11 refused commands before login", c.closed())
    c.close()
    c = hostile.Ctl(d, src="127.0.0.3")
    c.reply()
    one_reply(c, "PROT P", 503, "PROT needs AUTH TLS first", "PROT before AUTH")
    one_reply(c, "PASS x@y", 503, "Send USER first", "PASS before USER")
    c.close()


def bounces(d):
    c = hostile.Ctl(d, src="127.0.0.3")
    c.reply()
    check_eq("anonymous login from 127.0.0.3", 230, c.login()[0])
    for command, code, text in (
            ("PORT 127,0,0,1,200,10", 500, "Illegal PORT: the address must be your own"),
            ("PORT 10,0,0,1,200,10", 500, "Illegal PORT: the address must be your own"),
            ("PORT 127,0,0,3,0,21", 500, "Illegal PORT: the port must be 1024 or above"),
            ("PORT 127,0,0,3,3,255", 500, "Illegal PORT: the port must be 1024 or above"),
            ("PORT 127,0,0,3,300,1", 501, "PORT needs h1,h2,h3,h4,p1,p2"),
            ("EPRT |1|127.0.0.1|40000|", 500, "Illegal EPRT: the address must be your own"),
            ("EPRT |2|::1|40000|", 500, "Illegal EPRT: the address must be your own"),
            ("EPRT |1|127.0.0.3|21|", 500, "Illegal EPRT: the port must be 1024 or above"),
            ("EPRT |1|127.0.0.3|65536|", 501, "EPRT: bad port"),
            ("PBSZ 0", 503, "PBSZ needs AUTH TLS first"),
            ("PROT P", 503, "PROT needs AUTH TLS first")):
        one_reply(c, command, code, text)
    # after refused bounces no data channel is set up
    one_reply(c, "RETR " + README, 425, "Use PASV, EPSV, PORT or EPRT first",
              "RETR after refused PORT/EPRT")

    # Passive port theft: 127.0.0.2 connects first to 127.0.0.3's port.
    port = epsv_port(c)
    thief = hostile.conn(d, port, src="127.0.0.2")
    thief.settimeout(5)
    try:
        stolen = thief.recv(65536)
    except (ConnectionResetError, socket.timeout, TimeoutError):
        stolen = b""
    thief.close()
    check_eq("passive connection from 127.0.0.2 gets nothing and is closed", b"", stolen)
    check("daemon logs the refused data connection",
          d.wait_log("refused: not the control connection's peer"))
    # the rightful client still gets its file on the same set-up
    ds = hostile.conn(d, port, src="127.0.0.3")
    c.cmd("TYPE I")
    code, _ = c.cmd("RETR " + README)
    check_eq("RETR by the rightful client after the theft attempt: 150", 150, code)
    data = b""
    ds.settimeout(10)
    while True:
        b = ds.recv(65536)
        if not b:
            break
        data += b
    ds.close()
    check_eq("RETR completes with 226", 226, c.reply()[0])
    with open(os.path.join(d.root, README), "rb") as f:
        check("rightful client's file is byte-exact", data == f.read())
    c.close()


def floods(d):
    # 100 KB command line: 500 naming the limit, then the session closes.
    c = hostile.Ctl(d, src="127.0.0.4")
    c.reply()
    try:
        c.send("USER " + "A" * 100000 + "\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    code, lines = c.reply()
    check_eq("100 KB command line answers 500", 500, code)
    check("100 KB command line reply names the limit",
          b"Command line too long (the limit is 1024 bytes)" in lines[0], lines)
    check("100 KB command line: session closed", c.closed())

    def garbage_codes(line, login):
        """Reply codes to 10,000 copies of line sent at once."""
        c = hostile.Ctl(d, src="127.0.0.4")
        c.reply()
        if login:
            c.login()
        try:
            c.send(line * 10000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        codes = []
        try:
            while len(codes) < 10001:
                codes.append(c.reply()[0])
        except (EOFError, ConnectionResetError):
            pass
        c.close()
        return codes

    # 10,000 garbage lines after login: 100 answers 500, then 421 and close.
    check_eq("10,000 garbage lines: 100 x 500 then 421", [500] * 100 + [421],
             garbage_codes(b"JUNK\x01\xff garbage\r\n", True))
    # The same before login: 10 x 500, then 421.
    check_eq("10,000 garbage lines before login: 10 x 500 then 421", [500] * 10 + [421],
             garbage_codes(b"GARBAGE\r\n", False))

    # Bare LF, NUL and a lone CR in a command line.
    c = hostile.Ctl(d, src="127.0.0.4")
    c.reply()
    c.send(b"NOOP\n")
    check_eq("NOOP ended by a bare LF answers 200", 200, c.reply()[0])
    c.send(b"NO\x00OP\r\n")
    code, lines = c.reply()
    check_eq("command holding a NUL answers 501", 501, code)
    c.close()

    # An HTTP request on the FTP port.
    c = hostile.Ctl(d, src="127.0.0.4")
    c.reply()
    c.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl\r\nAccept: */*\r\n\r\n")
    code, lines = c.reply()
    check_eq("HTTP request on the FTP port answers 421", 421, code)
    check("HTTP request on the FTP port says why",
          b"This is an FTP server, not an HTTP server" in lines[0], lines)
    check("HTTP request on the FTP port: session closed", c.closed())


def replies_are_clean(d):
    """No reply carries CR/LF from the input; every line starts with a code
    or is a continuation line of a multi-line reply."""
    c = hostile.Ctl(d, src="127.0.0.5")
    c.reply()
    c.login()
    for arg in ("a\rb", "x\r\r\n220 fake", "%0d%0a226 forged", "pub/\x7f"):
        c.send("SIZE " + arg + "\r\n")
    time.sleep(1)
    c.cmd("NOOP")
    c.s.settimeout(2)
    c.send("QUIT\r\n")
    raw = c.buf
    try:
        while True:
            b = c.s.recv(65536)
            if not b:
                break
            raw += b
    except (socket.timeout, TimeoutError, ConnectionResetError):
        pass
    lines = raw.split(b"\r\n")
    bad = [l for l in lines if l and not (l[:3].isdigit() and l[3:4] in (b" ", b"-"))]
    check_eq("every reply line to CR-laden arguments starts with a code", [], bad)
    check("no forged 226/220 reply", b"\r\n226 forged" not in raw and b"\r\n220 fake" not in raw,
          raw[:400])
    c.close()


def main():
    d, digest = hostile.start_daemon()
    with d:
        tree_before = hostile.tree_digest(d.root)
        rss_start = d.rss_kib()
        good = hostile.GoodDownloads(d)
        check("good downloads started", good.started())
        before_login(d)
        bounces(d)
        floods(d)
        replies_are_clean(d)
        check("good downloads still running after the FTP attacks", good.running())
        hostile.finish(d, good, digest, tree_before, rss_start)
    pmtest.done()


main()
