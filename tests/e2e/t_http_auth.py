"""Basic auth over HTTPS: 401 with realm and charset, bcrypt / sha512-crypt
/ yescrypt / apr1 / {SHA} users, wrong password, protected paths invisible
to anonymous listings, the ban (also refused at FTP's greeting), reload on
SIGHUP (old table kept on a bad file), plain-text passwords refused at
load with the line, access log with the user and never the password."""
import base64
import hashlib
import os
import socket
import subprocess
import time
import warnings
import pmtest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt


def sha_entry(pw):
    return "{SHA}" + base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()


def apr1(pw):
    return subprocess.run(["openssl", "passwd", "-apr1", pw], capture_output=True,
                          check=True).stdout.decode().strip()


def status(d, path, user=None, pw=None, extra=()):
    args = ["-o", "/dev/null", "-w", "%{http_code}"] + list(extra)
    if user is not None:
        args += ["-u", "%s:%s" % (user, pw)]
    return d.curl(*args, path=path).stdout.decode()


tmp_users = {
    "alice": ("s3cret alice", crypt.crypt("s3cret alice", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))),
    "bob": ("bob-pass", crypt.crypt("bob-pass", crypt.mksalt(crypt.METHOD_SHA512))),
    "carol": ("carol:pw\u00e9", crypt.crypt("carol:pw\u00e9", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$")),
    "dave": ("dave-apr1", apr1("dave-apr1")),
    "erin": ("erin-sha", sha_entry("erin-sha")),
}

with pmtest.Daemon(start=False) as d:
    af = os.path.join(d.tmp, "htpasswd")
    with open(af, "w") as f:
        f.write("# users\n")
        for u, (_, h) in tmp_users.items():
            f.write("%s:%s\n" % (u, h))
    priv = os.path.join(d.root, "private")
    os.mkdir(priv)
    with open(os.path.join(priv, "data.txt"), "w") as f:
        f.write("members only\n")
    # The daemon drops privileges: let it read its files again on SIGHUP.
    os.chmod(d.tmp, 0o755)
    os.chmod(af, 0o644)
    d.write_conf({"auth_file": af, "auth_paths": "/private", "ban_after": "4",
                  "ban_window": "60", "ban_time": "60"})
    os.chmod(d.conf, 0o644)
    d.start()

    pmtest.check("weak hashes warned at load", d.wait_log("apr1") and "{SHA}" in d.log_text(),
                  d.log_text()[-800:])
    p = d.curl("-i", "-o", "-", path="/private/data.txt")
    head = p.stdout.decode("utf-8", "replace")
    pmtest.check("no credentials: 401", head.startswith("HTTP/1.1 401"), head[:200])
    pmtest.check("WWW-Authenticate with realm and charset",
                 'WWW-Authenticate: Basic realm="pubmirror", charset="UTF-8"' in head, head[:400])
    p = d.curl(path="/")
    pmtest.check("protected dir hidden from anonymous listing", b"private" not in p.stdout)
    p = d.curl("-H", "Accept: application/json", path="/")
    pmtest.check("hidden from anonymous JSON too", b"private" not in p.stdout)
    for u, (pw, _) in tmp_users.items():
        pmtest.check_eq("user %s (%s)" % (u, tmp_users[u][1][:4]), "200", status(d, "/private/data.txt", u, pw))
    p = d.curl("-u", "alice:s3cret alice", path="/")
    pmtest.check("authenticated listing shows it", b"private/" in p.stdout)
    # BREACH: a logged-in page (it names protected entries) is never
    # compressed; the anonymous one, which holds no secret, may be.
    h = d.curl("-u", "alice:s3cret alice", "-H", "Accept-Encoding: gzip", "-D", "-",
               "-o", "/dev/null", path="/").stdout.decode("latin-1").lower()
    pmtest.check("authenticated listing not gzip-compressed (BREACH)",
                 "content-encoding" not in h, h)
    h = d.curl("-H", "Accept-Encoding: gzip", "-D", "-", "-o", "/dev/null",
               path="/").stdout.decode("latin-1").lower()
    pmtest.check("anonymous listing gzip-compressed", "content-encoding: gzip" in h, h)
    p = d.curl("-u", "alice:s3cret alice", "-o", "-", path="/private/data.txt")
    pmtest.check_eq("body", b"members only\n", p.stdout)
    # Metalink of a protected file: only with a login, and no FTP URL
    # (anonymous FTP does not see protected paths)
    pmtest.check_eq("anonymous .meta4 of a protected file: 401", "401",
                    status(d, "/private/data.txt.meta4"))
    m = d.curl("-u", "alice:s3cret alice", path="/private/data.txt.meta4").stdout.decode()
    pmtest.check("logged-in .meta4: HTTPS URL, no FTP URL",
                 "<size>13</size>" in m and "https://" in m and "ftp://" not in m, m)

    # Cached verification: many authenticated requests are fast.
    t0 = time.time()
    for _ in range(5):
        status(d, "/private/data.txt", "alice", "s3cret alice")
    pmtest.check("cached credentials", time.time() - t0 < 5)

    pmtest.check_eq("wrong password: 401", "401", status(d, "/private/data.txt", "alice", "nope"))
    pmtest.check_eq("unknown user: 401", "401", status(d, "/private/data.txt", "mallory", "x"))

    d.settle(d.access_log)
    with open(d.access_log, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    pmtest.check("access log names the user", " alice [" in log, log[-400:])
    pmtest.check("access log never has a password", "s3cret" not in log and "nope" not in log)

    # Reload: a new user appears; a broken file keeps the old table.
    with open(af, "a") as f:
        f.write("frank:%s\n" % crypt.crypt("frank-pw", crypt.mksalt(crypt.METHOD_SHA512)))
    d.reload()
    ok = False
    for _ in range(50):
        if status(d, "/private/data.txt", "frank", "frank-pw") == "200":
            ok = True
            break
        time.sleep(0.1)
    pmtest.check("reloaded on SIGHUP", ok)
    with open(af, "a") as f:
        f.write("oscar:plaintextpassword\n")
    d.reload()
    time.sleep(1)
    pmtest.check_eq("bad file on reload: old table kept", "200",
                    status(d, "/private/data.txt", "frank", "frank-pw"))

    # Ban after repeated failures; the ban covers FTP too.
    for _ in range(4):
        status(d, "/private/data.txt", "alice", "wrong")
    st = status(d, "/private/data.txt", "alice", "s3cret alice")
    pmtest.check("banned: even the right password is refused (403, or 503 at connect)",
                 st in ("403", "503"), st)
    greeting = b""
    try:
        s = socket.create_connection(("127.0.0.1", d.ftp_port), timeout=5)
        greeting = s.recv(1024)
        s.close()
    except OSError as e:
        greeting = str(e).encode()
    pmtest.check("ban seen at FTP's greeting (421)", greeting.startswith(b"421"), greeting[:100])

# Plain-text passwords are refused at load with the line number.
with pmtest.Daemon(start=False) as d:
    af = os.path.join(d.tmp, "htpasswd")
    with open(af, "w") as f:
        f.write("alice:%s\nbob:hunter2\n" % crypt.crypt("x", crypt.mksalt(crypt.METHOD_SHA512)))
    d.write_conf({"auth_file": af, "auth_paths": "/"})
    p = subprocess.run(d.argv() + ["-t"], capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    pmtest.check("plain text refused by -t", p.returncode != 0 and (af + ":2:") in out, out)
pmtest.done()
