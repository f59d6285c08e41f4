"""Hostile logins, while two good clients download a 200 MB file over FTPS
and HTTPS: missing and wrong Basic credentials until the ban (ban_after =
3), the ban then honoured on every path and on FTP (421 at the greeting);
wrong FTP passwords after AUTH TLS ban the address on HTTPS too; user
logins over plain FTP refused; the good clients, from another address,
never notice.  # pm-tsan"""
import base64
import os
import subprocess
import tempfile

import hostile
import pmtest
from hostile import check, check_eq

PROTECTED = "/pub/hello/SHA256SUMS"


def get(d, src, path=PROTECTED, user=None, pw=None):
    h = ""
    if user is not None:
        h = "Authorization: Basic %s\r\n" % base64.b64encode(
            ("%s:%s" % (user, pw)).encode()).decode()
    a = hostile.https_raw(d, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n"
                          % (path, h), src=src)
    head, _, body = a.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0]
    return status, head, body


def https_until_ban(d):
    src = "127.0.0.5"
    status, head, _ = get(d, src)
    check_eq("missing credentials answer 401", b"HTTP/1.1 401 Unauthorized", status)
    check("401 offers Basic auth", b'WWW-Authenticate: Basic realm="pubmirror"' in head, head)
    status, _, _ = get(d, src)
    check_eq("missing credentials again: 401 (not counted as a failure)",
             b"HTTP/1.1 401 Unauthorized", status)
    for i in range(3):
        status, _, _ = get(d, src, user="alice", pw="wrong%d" % i)
        check_eq("wrong password %d answers 401" % (i + 1), b"HTTP/1.1 401 Unauthorized",
                 status)
    status, head, body = get(d, src, user="alice", pw="wrong-again")
    check_eq("after 3 failures the address is banned: 503", b"HTTP/1.1 503 Service Unavailable",
             status)
    check("ban answer carries Retry-After", b"Retry-After: " in head, head)
    check("ban answer says why", b"banned for a while after failed logins" in body, body)
    status, _, _ = get(d, src, user="alice", pw="secret")
    check_eq("banned address: even the right password gets 503",
             b"HTTP/1.1 503 Service Unavailable", status)
    status, _, _ = get(d, src, path="/README")
    check_eq("banned address: public paths get 503 too", b"HTTP/1.1 503 Service Unavailable",
             status)
    c = hostile.Ctl(d, src=src)
    code, lines = c.reply()
    check_eq("banned address: FTP greeting is 421", 421, code)
    check("FTP 421 says why", b"banned for a while after failed logins" in lines[0], lines)
    check("FTP session of the banned address closed", c.closed())
    c.close()
    c = hostile.Ctl(d, src=src, port=d.ftps_port)
    try:
        c.starttls()
        code, _ = c.reply()
    except Exception as e:  # closed before or during the handshake
        code = repr(e)
    check("banned address: implicit FTPS refused (421 or closed)",
          code == 421 or isinstance(code, str), code)
    c.close()
    status, _, _ = get(d, "127.0.0.1", user="alice", pw="secret")
    check_eq("another address still logs in (200)", b"HTTP/1.1 200 OK", status)


def ftp_until_ban(d):
    src = "127.0.0.6"
    c = hostile.Ctl(d, src=src)
    c.reply()
    code, lines = c.cmd("USER alice")
    # refused at USER, so that no password follows in clear (as vsftpd's
    # force_local_logins_ssl)
    check_eq("USER alice over plain FTP answers 530", 530, code)
    check("plain FTP user login refused: TLS first",
          b"Non-anonymous logins need TLS: send AUTH TLS before USER" in lines[0], lines)
    code, lines = c.cmd("PASS secret")
    check_eq("a password after the refused USER answers 503", 503, code)
    c.close()
    c = hostile.Ctl(d, src=src)
    c.reply()
    c.cmd("AUTH TLS")
    c.starttls()
    codes = []
    for i in range(3):
        code, _ = c.cmd("USER alice")
        if code != 331:
            codes.append(("USER", code))
            break
        code, lines = c.cmd("PASS wrong%d" % i)
        codes.append(code)
    print("# FTP answers to 3 wrong passwords: %r" % codes)
    check("3 wrong FTP passwords: 530, 530, then 421 (banned, closing)",
          codes == [530, 530, 421], codes)
    c.close()
    c = hostile.Ctl(d, src=src)
    code, _ = c.reply()
    check_eq("after FTP failures the FTP greeting is 421", 421, code)
    c.close()
    status, _, _ = get(d, src, path="/README")
    check_eq("after FTP failures HTTPS answers 503", b"HTTP/1.1 503 Service Unavailable",
             status)


def main():
    hp = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True)
    tmp = tempfile.mkdtemp(prefix="pm-ban-")
    htpasswd = os.path.join(tmp, "htpasswd")
    with open(htpasswd, "w") as f:
        f.write("alice:" + hp.stdout.strip() + "\n")
    os.chmod(htpasswd, 0o644)
    d, digest = hostile.start_daemon(sets={"auth_file": htpasswd, "auth_paths": "/pub/hello",
                                           "ban_after": "3", "ban_time": "120"})
    with d:
        tree_before = hostile.tree_digest(d.root)
        rss_start = d.rss_kib()
        good = hostile.GoodDownloads(d)
        check("good downloads started", good.started())
        https_until_ban(d)
        ftp_until_ban(d)
        check("good downloads still running after the login attacks", good.running())
        hostile.finish(d, good, digest, tree_before, rss_start)
    os.remove(htpasswd)
    os.rmdir(tmp)
    pmtest.done()


main()
