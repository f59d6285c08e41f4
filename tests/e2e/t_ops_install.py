"""`make install DESTDIR=<tmp> PREFIX=/usr` puts every file in place: the
binary, the sample configuration (which passes `pubmirrord -t`), the
systemd unit (hardened, foreground, reload by SIGHUP; `systemd-analyze
verify` passes, finding the installed man pages), and the two man pages,
which groff and man render without a warning.  Needs systemd-analyze
(Debian package systemd), groff and man-db."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402

BUILD = os.environ.get("PM_BUILD", "build")
# make install must not relink a sanitizer build without its flags.
SAN = {"build-asan": "asan", "build-tsan": "tsan"}.get(os.path.basename(BUILD), "")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, timeout=120, **kw)


def unit_values(text, key):
    return [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith(key + "=")]


def main():
    tools = {t: shutil.which(t) for t in ("systemd-analyze", "groff", "man", "make")}
    for t, p in tools.items():
        pmtest.check("%s is installed" % t, p is not None)
    dest = tempfile.mkdtemp(prefix="pm-install-")
    try:
        r = run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=/usr", "BUILD=" + BUILD,
                 "SAN=" + SAN],
                cwd=pmtest.TOP)
        pmtest.check("make install succeeded", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-800:])
        files = {
            "binary": "usr/sbin/pubmirrord",
            "config": "etc/pubmirror/pubmirror.conf",
            "unit": "usr/lib/systemd/system/pubmirrord.service",
            "man8": "usr/share/man/man8/pubmirrord.8",
            "man5": "usr/share/man/man5/pubmirror.conf.5",
        }
        for what, rel in files.items():
            p = os.path.join(dest, rel)
            pmtest.check("%s installed as /%s" % (what, rel),
                         os.path.isfile(p) and os.path.getsize(p) > 0)
        binp = os.path.join(dest, files["binary"])
        pmtest.check("binary is executable", os.access(binp, os.X_OK))
        r = run([binp, "-V"])
        pmtest.check("installed binary runs", r.returncode == 0 and b"pubmirrord" in r.stdout,
                     r.stdout + r.stderr)
        pmtest.check("config not world-writable",
                     os.stat(os.path.join(dest, files["config"])).st_mode & 0o002 == 0)

        # The installed sample configuration is valid.  Its root and state
        # directory are the deployment's: point them at this checkout.
        state = os.path.join(dest, "state")
        os.mkdir(state)
        r = run([binp, "-t", "-c", os.path.join(dest, files["config"]),
                 "--set", "root=" + os.path.join(pmtest.TOP, "mirror-root"),
                 "--set", "state_dir=" + state,
                 # the service user the README creates may not exist here
                 "--set", "user=nobody"], cwd=pmtest.TOP)
        pmtest.check("installed config passes pubmirrord -t", r.returncode == 0,
                     (r.stdout + r.stderr).decode()[-500:])
        r = run([binp, "--dump-config"])
        with open(os.path.join(dest, files["config"]), "rb") as f:
            installed = f.read()
        keys = set(re.findall(rb"^#?\s*([a-z_]+)\s*=", r.stdout, re.M))
        missing = [k for k in keys if not re.search(rb"^#?\s*" + k + rb"\s*=", installed, re.M)]
        pmtest.check("installed config names every key of the table", not missing, missing)

        # Man pages: rendered without a warning, and they say what they are.
        for what in ("man8", "man5"):
            p = os.path.join(dest, files[what])
            r = run(["groff", "-t", "-man", "-Tutf8", "-ww", "-z", p])
            pmtest.check("%s: groff renders without warnings" % what,
                         r.returncode == 0 and r.stderr == b"", r.stderr.decode()[-500:])
            r = run(["man", "--warnings", "-l", p], env=dict(os.environ, LC_ALL="C.UTF-8",
                                                            MANWIDTH="80", MANPAGER="cat",
                                                            PAGER="cat"))
            pmtest.check("%s: man -l renders without warnings" % what,
                         r.returncode == 0 and r.stderr == b"" and len(r.stdout) > 500,
                         r.stderr.decode()[-500:])
        with open(os.path.join(dest, files["man5"]), "rb") as f:
            man5 = f.read()
        pmtest.check("pubmirror.conf(5) documents the keys",
                     all(k in man5 for k in (b"root", b"max_clients", b"metrics_listen",
                                             b"proxy_protocol", b"drain_timeout")))
        with open(os.path.join(dest, files["man8"]), "rb") as f:
            man8 = f.read()
        pmtest.check("pubmirrord(8) documents the signals",
                     all(s in man8 for s in (b"SIGHUP", b"SIGTERM", b"SIGUSR1")), man8[-400:])

        # The unit.
        with open(os.path.join(dest, files["unit"])) as f:
            unit = f.read()
        pmtest.check("no @PREFIX@ left in the unit", "@PREFIX@" not in unit)
        pmtest.check_eq("ExecStart runs the installed binary in the foreground",
                        ["/usr/sbin/pubmirrord -f -c /etc/pubmirror/pubmirror.conf"],
                        unit_values(unit, "ExecStart"))
        pmtest.check("reload is SIGHUP", "kill -HUP $MAINPID" in unit)
        for key, want in (("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
                          ("PrivateTmp", "yes"), ("ProtectHome", "yes"),
                          ("PrivateDevices", "yes")):
            pmtest.check_eq("unit %s" % key, [want], unit_values(unit, key))
        caps = " ".join(unit_values(unit, "CapabilityBoundingSet")).split()
        pmtest.check("capabilities: bind, and drop to the user, nothing more",
                     set(caps) == {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID",
                                   "CAP_CHOWN"}, caps)
        fams = " ".join(unit_values(unit, "RestrictAddressFamilies")).split()
        pmtest.check("address families restricted", set(fams) <= {"AF_INET", "AF_INET6",
                                                                   "AF_UNIX"} and fams, fams)
        pmtest.check("syscall filter", "@system-service" in " ".join(
            unit_values(unit, "SystemCallFilter")))
        pmtest.check("served tree read-only", unit_values(unit, "ReadOnlyPaths") != [])
        nofile = unit_values(unit, "LimitNOFILE")
        pmtest.check("LimitNOFILE covers the default max_clients (2000) x 3",
                     len(nofile) == 1 and nofile[0].isdigit() and int(nofile[0]) >= 6000,
                     nofile)
        stop = unit_values(unit, "TimeoutStopSec")
        pmtest.check("TimeoutStopSec above the default drain_timeout (30 s)",
                     len(stop) == 1 and stop[0].rstrip("s").isdigit() and
                     int(stop[0].rstrip("s")) > 30, stop)

        # systemd-analyze verify, with the commands pointing into DESTDIR and
        # man finding the installed pages (Documentation=man:...).
        vdir = os.path.join(dest, "verify")
        os.mkdir(vdir)
        with open(os.path.join(vdir, "pubmirrord.service"), "w") as f:
            f.write(unit.replace("=/usr/sbin/", "=" + dest + "/usr/sbin/"))
        env = dict(os.environ, MANPATH=os.path.join(dest, "usr/share/man"))
        if tools["systemd-analyze"]:
            r = run(["systemd-analyze", "verify", os.path.join(vdir, "pubmirrord.service")],
                    env=env)
            pmtest.check("systemd-analyze verify passes", r.returncode == 0 and
                         b"pubmirrord.service" not in r.stderr,
                         (r.stdout + r.stderr).decode()[-800:])
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    pmtest.done()


if __name__ == "__main__":
    main()
