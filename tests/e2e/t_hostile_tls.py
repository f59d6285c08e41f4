"""Hostile TLS and FTP-TLS-policy clients under ftp_tls = require, while two
good clients download a 200 MB file over FTPS and HTTPS: plain USER/PASS
refused, PBSZ/PROT before AUTH, handshake garbage after AUTH TLS, on the
implicit FTPS port and on the HTTPS port, a ClientHello cut in the middle,
a client that stops after AUTH TLS.  # pm-tsan"""
import os
import socket
import ssl
import time

import hostile
import pmtest
from hostile import check, check_eq


def plain_login_refused(d):
    c = hostile.Ctl(d, src="127.0.0.3")
    check_eq("greeting under ftp_tls = require", 220, c.reply()[0])
    code, lines = c.cmd("USER anonymous")
    check_eq("plain USER under ftp_tls = require answers 530", 530, code)
    check("plain USER reply says TLS is required",
          b"TLS is required on this server: send AUTH TLS before USER" in lines[0], lines)
    code, lines = c.cmd("PASS guest@example.org")
    check_eq("plain PASS under ftp_tls = require answers 530", 530, code)
    code, lines = c.cmd("PBSZ 0")
    check_eq("PBSZ before AUTH answers 503", 503, code)
    code, lines = c.cmd("PROT P")
    check_eq("PROT before AUTH answers 503", 503, code)
    code, lines = c.cmd("RETR README")
    check_eq("RETR without login answers 530", 530, code)
    code, lines = c.cmd("AUTH SSLv2")
    check_eq("AUTH with an unknown mechanism answers 504", 504, code)
    # the session is still usable: AUTH TLS then an anonymous login works
    code, _ = c.login(tls=True)
    check_eq("AUTH TLS then anonymous login answers 230", 230, code)
    code, _ = c.cmd("PBSZ 0")
    check_eq("PBSZ 0 after AUTH TLS answers 200", 200, code)
    code, _ = c.cmd("PROT P")
    check_eq("PROT P after AUTH TLS answers 200", 200, code)
    c.close()


def tls_garbage(d, cut):
    # garbage where a ClientHello should be, after "234"
    for label, junk in (("random bytes", os.urandom(4096)),
                        ("an HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                        ("a record header claiming 16 MB", b"\x16\x03\x01\xff\xff" + b"\x00" * 64),
                        ("a ClientHello cut in the middle", None)):
        c = hostile.Ctl(d, src="127.0.0.4")
        c.reply()
        code, _ = c.cmd("AUTH TLS")
        check_eq("AUTH TLS answers 234 (%s follows)" % label, 234, code)
        if junk is None:
            ctx = ssl.create_default_context()
            inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(inc, outg, server_hostname="x")
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            hello = outg.read()
            c.send(hello[:len(hello) // 2])
            cut.append(c)  # judged at the end: the login timeout bounds it
            continue
        c.send(junk)
        got = b""
        c.s.settimeout(15)
        try:
            while len(got) < 65536:
                b = c.s.recv(65536)
                if not b:
                    break
                got += b
        except (ConnectionResetError, socket.timeout, TimeoutError) as e:
            got += b"<%s>" % type(e).__name__.encode()
        c.close()
        check("explicit FTPS: %s instead of a ClientHello: closed, no FTP reply" % label,
              b"<timeout>" not in got and b"<TimeoutError>" not in got
              and not got[:3].isdigit(), got[:60])
    for name, port in (("implicit FTPS", d.ftps_port), ("HTTPS", d.https_port)):
        # not random: a first byte with the high bit set reads as an SSLv2
        # record header announcing up to 32 KB, which a server may wait for
        # until its handshake timeout
        for label, junk in (("garbage bytes", bytes(range(0x20, 0x7f)) * 32),
                            ("a plain FTP command", b"USER anonymous\r\n"),
                            ("a plain HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")):
            s = hostile.conn(d, port, src="127.0.0.4", timeout=15)
            try:
                s.sendall(junk)
            except OSError:
                pass
            got = b""
            try:
                while len(got) < 65536:
                    b = s.recv(65536)
                    if not b:
                        break
                    got += b
                closed = True
            except ConnectionResetError:
                closed = True
            except (socket.timeout, TimeoutError):
                closed = False
            s.close()
            # a TLS alert record (0x15) at most; never a plain-text answer
            check("%s: %s: closed within 15 s" % (name, label), closed)
            check("%s: %s: no plain-text answer" % (name, label),
                  got == b"" or got[:1] == b"\x15", got[:60])


def silent_after_auth(d):
    """A client that stops talking right after 234 holds nothing for long:
    the login timeout or the handshake bound closes it."""
    c = hostile.Ctl(d, src="127.0.0.5")
    c.reply()
    code, _ = c.cmd("AUTH TLS")
    check_eq("AUTH TLS answers 234 (client then silent)", 234, code)
    return c


def main():
    d, digest = hostile.start_daemon(sets={"ftp_tls": "require"})
    with d:
        tree_before = hostile.tree_digest(d.root)
        rss_start = d.rss_kib()
        good = hostile.GoodDownloads(d)
        check("good downloads started (explicit FTPS under require)", good.started())
        silent = silent_after_auth(d)
        plain_login_refused(d)
        cut = []
        tls_garbage(d, cut)
        check("good downloads still running after the TLS attacks", good.running())
        # the login timeout is PM_FTP_LOGIN_TIMEOUT (60 s); the good
        # downloads go on meanwhile
        check("client silent after AUTH TLS closed within 60 s (+10 s)", silent.closed(70))
        silent.close()
        for c in cut:
            check("client stuck in the middle of its ClientHello closed within 60 s (+10 s)",
                  c.closed(10))
            c.close()
        hostile.finish(d, good, digest, tree_before, rss_start, tls=True)
    pmtest.done()


main()
