"""The operator's path, as installed: `make install DESTDIR=...` puts the
production configuration in place (generated from the config table, so it
cannot drift), then the installed binary runs as root with the installed
configuration and the unit's ExecStartPre/ExecStart lines, only `root`
overridden, and answers on 21 (FTP), 990 (implicit FTPS), 443 (HTTPS),
80 (HTTP, redirecting) and 873 (rsync, Debian's rsync client) over IPv4
and IPv6.  The built-in ACME keys are in the file, commented out, each
after a line that says what to put there.  After the drop to the service
user, the installed logrotate file rotates every log in the root-owned
0750 log directory (group: the service user's, as the unit's Group= makes
it) and SIGUSR1 reopens them.

The fixed ports and paths stay out of the host's way: the daemon runs in a
network and mount namespace this test creates (unshare), with tmpfs over
/var/log and /var/lib, and the service user `pubmirror` added to a private
copy of /etc/passwd and /etc/group.  Needs root, unshare and ip (util-linux,
iproute2), logrotate, curl, rsync."""
import fnmatch
import ftplib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402

BUILD = os.environ.get("PM_BUILD", "build")
# make install must not relink a sanitizer build without its flags.
SAN = {"build-asan": "asan", "build-tsan": "tsan"}.get(os.path.basename(BUILD), "")
FILE = "pub/hello/hello-2.12.tar.gz"


def run(argv, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, capture_output=True, **kw)


def unit_values(text, key):
    return [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith(key + "=")]


def outer():
    for t in ("unshare", "ip", "logrotate", "curl", "make", "rsync"):
        pmtest.check("%s is installed" % t, shutil.which(t) is not None)
    if not pmtest.check("runs as root (binds 21, 80, 443, 990; namespaces)",
                        os.geteuid() == 0):
        pmtest.done()
    dest = tempfile.mkdtemp(prefix="pm-prod-")
    os.chmod(dest, 0o755)
    rc = 1
    try:
        r = run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=/usr", "BUILD=" + BUILD,
                 "SAN=" + SAN],
                cwd=pmtest.TOP)
        pmtest.check("make install succeeded", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-800:])
        binp = os.path.join(dest, "usr/sbin/pubmirrord")
        confp = os.path.join(dest, "etc/pubmirror/pubmirror.conf")
        with open(confp, "rb") as f:
            conf = f.read()
        gen = run([binp, "--production-config"]).stdout
        pmtest.check("installed config is the table's production config", conf == gen)
        text = conf.decode()
        vals = dict(re.findall(r"^([a-z_]+) = ?(.*)$", text, re.M))
        for k, v in (("root", "/srv/mirror"), ("ftp_listen", "*:21"),
                     ("ftps_listen", "*:990"), ("https_listen", "*:443"),
                     ("http_listen", "*:80"), ("http_mode", "redirect"),
                     ("rsync_listen", "*:873")):
            pmtest.check_eq("production %s" % k, v, vals.get(k))
        # Built-in ACME: off, but one uncommenting away, each line explained.
        lines = text.splitlines()
        for k in ("acme_directory", "acme_domains", "acme_email"):
            pmtest.check("production %s is not set" % k, k not in vals, vals.get(k))
            at = [i for i, l in enumerate(lines) if re.match(r"^# %s = \S" % k, l)]
            pmtest.check("production %s shown commented out" % k, len(at) == 1, at)
            if at:
                why = lines[at[0] - 1]
                pmtest.check("production %s: a line says why" % k,
                             why.startswith("# ") and " = " not in why and len(why) > 20, why)
        acme_dir = re.search(r"^# acme_directory = (\S+)$", text, re.M)
        pmtest.check("the commented acme_directory is an https:// URL",
                     acme_dir is not None and acme_dir.group(1).startswith("https://"))
        uncommented = re.sub(r"^# (acme_(directory|domains|email) = )", r"\1", text,
                             flags=re.M)
        upath = os.path.join(dest, "uncommented.conf")
        with open(upath, "w") as f:
            f.write(uncommented)
        r = run([binp, "-t", "-c", upath, "--set", "root=" + os.path.join(pmtest.TOP,
                                                                        "mirror-root"),
                 "--set", "user=nobody"], cwd="/")
        pmtest.check("the ACME lines uncommented pass -t", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-400:])
        sample = open(os.path.join(pmtest.TOP, "conf/pubmirror.conf")).read()
        pmtest.check("the development sample stays on loopback high ports",
                     "\nftp_listen = 127.0.0.1:2121\n" in sample)
        with open(os.path.join(dest, "usr/lib/systemd/system/pubmirrord.service")) as f:
            unit = f.read()
        pmtest.check_eq("ReadOnlyPaths tolerates a missing tree", ["-/srv/mirror"],
                        unit_values(unit, "ReadOnlyPaths"))
        pmtest.check_eq("the unit's group owns the log directory", ["pubmirror"],
                        unit_values(unit, "Group"))
        caps = " ".join(unit_values(unit, "CapabilityBoundingSet")).split()
        pmtest.check("the unit may bind ports < 1024 (21, 80, 443, 873, 990)",
                     "CAP_NET_BIND_SERVICE" in caps, caps)
        with open(os.path.join(dest, "etc/logrotate.d/pubmirror")) as f:
            lr = f.read()
        pats = re.findall(r"^(/\S+)\s*\{", lr, re.M)
        logs = [vals[k] for k in ("error_log", "access_log", "xfer_log", "json_log")]
        for lg in logs:
            pmtest.check("logrotate covers %s" % lg,
                         any(fnmatch.fnmatch(lg, p) for p in pats), pats)
        pmtest.check("logrotate does not rotate rotated files",
                     not any(fnmatch.fnmatch(lg + s, p) for p in pats for lg in logs
                             for s in (".1", ".2.gz")))
        # -t from another working directory, with the checkout's sample.
        r = run([binp, "-t", "-c", os.path.join(pmtest.TOP, "conf/pubmirror.conf")], cwd="/")
        pmtest.check("pubmirrord -t -c /abs/conf/pubmirror.conf works from /",
                     r.returncode == 0, (r.stdout + r.stderr).decode()[-400:])
        sys.stdout.flush()
        p = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private",
                            sys.executable, os.path.abspath(__file__), "--inner", dest],
                           timeout=300)
        rc = p.returncode
        pmtest.check("namespace part passed", rc == 0, rc)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    pmtest.done()


def free_id(path):
    used = set()
    with open(path) as f:
        for line in f:
            parts = line.split(":")
            if len(parts) > 2 and parts[2].isdigit():
                used.add(int(parts[2]))
    i = 64500
    while i in used:
        i += 1
    return i


def setup_namespace(tmp):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for d in ("/var/log", "/var/lib"):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d], check=True)
    uid = free_id("/etc/passwd")
    gid = free_id("/etc/group")
    for name, line in (("passwd", "pubmirror:x:%d:%d::/nonexistent:/usr/sbin/nologin\n"
                        % (uid, gid)),
                       ("group", "pubmirror:x:%d:\n" % gid)):
        copy = os.path.join(tmp, name)
        shutil.copy("/etc/" + name, copy)
        with open(copy, "a") as f:
            f.write(line)
        os.chmod(copy, 0o644)
        subprocess.run(["mount", "--bind", copy, "/etc/" + name], check=True)
    # What systemd makes of StateDirectory=, LogsDirectory= and Group=.
    os.mkdir("/var/lib/pubmirror", 0o700)
    os.mkdir("/var/lib/pubmirror/acme", 0o755)
    os.mkdir("/var/log/pubmirror")
    os.chown("/var/log/pubmirror", 0, gid)
    os.chmod("/var/log/pubmirror", 0o750)
    return uid, gid


def wait_port(family, host, port, proc, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect((host, port))
                return True
        except OSError:
            time.sleep(0.1)
    return False


def ftp_fetch(host, tls):
    got = bytearray()
    if tls == "implicit":
        class Implicit(ftplib.FTP_TLS):
            def connect(self, host="", port=0, timeout=-999, source_address=None):
                self.host, self.port = host, port
                self.sock = socket.create_connection((host, port), 15)
                self.af = self.sock.family
                self.sock = self.context.wrap_socket(self.sock, server_hostname=None)
                self.file = self.sock.makefile("r", encoding=self.encoding)
                self.welcome = self.getresp()
                return self.welcome
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        f = Implicit(context=ctx, timeout=15)
        f.connect(host, 990)
        f.login()
        f.prot_p()
    else:
        f = ftplib.FTP(timeout=15)
        f.connect(host, 21)
        f.login()
    f.retrbinary("RETR " + FILE, got.extend)
    f.quit()
    return bytes(got)


def curl(url, *extra):
    return run(["curl", "-sS", "-k", "-g", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                "--max-time", "20"] + list(extra) + [url], timeout=60)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def wait_for(path, needle, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if needle in read(path):
            return True
        time.sleep(0.1)
    return False


def inner(dest):
    tmp = tempfile.mkdtemp(prefix="pm-prod-ns-")
    os.chmod(tmp, 0o755)
    uid, gid = setup_namespace(tmp)
    tree = os.path.join(tmp, "mirror")
    shutil.copytree(os.path.join(pmtest.TOP, "mirror-root"), tree, symlinks=True)
    with open(os.path.join(tree, FILE), "rb") as f:
        want = f.read()
    with open(os.path.join(dest, "usr/lib/systemd/system/pubmirrord.service")) as f:
        unit = f.read()
    root_set = ["--set", "root=" + tree]

    def argv(line):
        # The unit's line, its installed files found under DESTDIR.
        a = [dest + w if w.startswith(("/usr/", "/etc/pubmirror/")) else w
             for w in line.split()]
        return a + root_set

    pre = unit_values(unit, "ExecStartPre")
    start = unit_values(unit, "ExecStart")
    r = run(argv(pre[0]))
    pmtest.check("ExecStartPre (-t) passes", r.returncode == 0,
                 (r.stdout + r.stderr).decode()[-600:])
    out = open(os.path.join(tmp, "stderr"), "wb")
    proc = subprocess.Popen(argv(start[0]), stdout=out, stderr=subprocess.STDOUT)
    errlog = "/var/log/pubmirror/error.log"
    try:
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for port in (21, 990, 443, 80, 873):
                if not pmtest.check("listening on %s port %d" % (host, port),
                                    wait_port(fam, host, port, proc)):
                    raise RuntimeError("daemon not up: " +
                                       read(os.path.join(tmp, "stderr"))[-800:] +
                                       read(errlog)[-800:])
        pmtest.check("running as the service user after the drop",
                     wait_for(errlog, "running as user pubmirror"), read(errlog)[-600:])
        pmtest.check("no warning about the log directory",
                     "cannot be searched" not in read(errlog), read(errlog)[-600:])
        # The helper that reads root-only keys: uid 0, no capability but
        # CAP_DAC_READ_SEARCH (the unit's bounding set does not even have it).
        kids = [int(e) for e in os.listdir("/proc") if e.isdigit() and
                read("/proc/%s/stat" % e).rsplit(")", 1)[-1].split()[1:2] == [str(proc.pid)]]
        st = dict(l.split(":", 1) for l in read("/proc/%d/status" % kids[0]).splitlines()
                  if ":" in l) if len(kids) == 1 else {}
        pmtest.check("the privileged helper: no capability but CAP_DAC_READ_SEARCH, NoNewPrivs",
                     st.get("Uid", "").split()[:1] == ["0"] and
                     st.get("CapEff", "").strip() in ("0000000000000000",
                                                       "0000000000000004") and
                     st.get("NoNewPrivs", "").strip() == "1", (kids, st))
        for host, u in (("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")):
            for tls in ("explicit", "implicit"):
                try:
                    got = ftp_fetch(host, tls if tls == "implicit" else None)
                    pmtest.check("FTP%s on %s: download byte-exact" %
                                 ("S 990" if tls == "implicit" else " 21", host), got == want)
                except Exception as e:  # noqa: BLE001
                    pmtest.check("FTP %s on %s" % (tls, host), False, repr(e))
            r = curl("https://%s/%s" % (u, FILE))
            pmtest.check_eq("HTTPS 443 on %s" % host, "200", r.stdout.decode().split(" ")[0])
            r = curl("http://%s/%s" % (u, FILE))
            code, _, loc = r.stdout.decode().partition(" ")
            pmtest.check("HTTP 80 on %s redirects to HTTPS" % host,
                         code in ("301", "308") and loc.startswith("https://"), r.stdout)
            r = run(["rsync", "--contimeout=20", "--timeout=60", "rsync://%s/" % u])
            mods = [l.split()[0] for l in r.stdout.decode().splitlines() if l.strip()]
            pmtest.check("rsync 873 on %s lists the module" % host,
                         r.returncode == 0 and "mirror" in mods,
                         (r.stdout + r.stderr).decode()[-400:])
            dst = os.path.join(tmp, "rsync-v6" if ":" in host else "rsync-v4")
            os.mkdir(dst)
            r = run(["rsync", "--contimeout=20", "--timeout=60",
                     "rsync://%s/mirror/%s" % (u, FILE), dst + "/"])
            got = read_bytes(os.path.join(dst, os.path.basename(FILE)))
            pmtest.check("rsync 873 on %s: download byte-exact" % host,
                         r.returncode == 0 and got == want,
                         (r.stdout + r.stderr).decode()[-400:])
        pmtest.check("access log written", wait_for("/var/log/pubmirror/access.log", FILE))
        pmtest.check("xferlog written", wait_for("/var/log/pubmirror/xferlog", FILE))

        # Rotation as shipped: logrotate renames and creates, then USR1.
        st = os.stat("/var/log/pubmirror")
        pmtest.check("log directory is root-owned 0750",
                     st.st_uid == 0 and (st.st_mode & 0o777) == 0o750 and st.st_gid == gid)
        lrconf = os.path.join(tmp, "logrotate.conf")
        with open(os.path.join(dest, "etc/logrotate.d/pubmirror")) as f:
            body = f.read()
        with open(lrconf, "w") as f:
            f.write(body)
        r = run(["logrotate", "-f", "-s", os.path.join(tmp, "lr.state"), lrconf])
        pmtest.check("logrotate ran", r.returncode == 0, r.stderr.decode()[-600:])
        names = sorted(os.listdir("/var/log/pubmirror"))
        for n in ("access.log", "xferlog", "error.log", "json.log"):
            pmtest.check("%s rotated" % n, n + ".1" in names and n in names, names)
            s = os.stat("/var/log/pubmirror/" + n)
            pmtest.check("new %s belongs to the service user" % n, s.st_uid == uid, s.st_uid)
        os.kill(proc.pid, signal.SIGUSR1)
        pmtest.check("USR1 reported the logs reopened",
                     wait_for(errlog, "log files reopened"), read(errlog)[-600:])
        pmtest.check("no reopen failure", "could not be reopened" not in read(errlog) +
                     read("/var/log/pubmirror/error.log.1"), read(errlog)[-600:])
        curl("https://127.0.0.1/%s?after-rotation" % FILE)
        ftp_fetch("127.0.0.1", None)
        pmtest.check("HTTPS line lands in the new access.log",
                     wait_for("/var/log/pubmirror/access.log", "after-rotation"))
        pmtest.check("FTP line lands in the new xferlog",
                     wait_for("/var/log/pubmirror/xferlog", FILE))
        pmtest.check("nothing more in the rotated access.log",
                     "after-rotation" not in read("/var/log/pubmirror/access.log.1"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
        pmtest.check("stopped cleanly on SIGTERM", proc.returncode == 0,
                     read(os.path.join(tmp, "stderr"))[-600:])
        shutil.rmtree(tmp, ignore_errors=True)
    pmtest.done()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inner":
        inner(sys.argv[2])
    else:
        outer()
