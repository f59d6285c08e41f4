"""Sandbox proof on the running daemon: /proc/PID/status of every thread
shows the service user (nobody when started as root), no capabilities,
NoNewPrivs 1 and a seccomp filter (Seccomp 2); a symlink in the tree that
points outside the root is not followed on either protocol; and Landlock
confines the process: after a SIGHUP that points root at a new
world-readable directory (which `nobody` can read, as a separate process
shows), the daemon cannot open it and keeps serving the old tree."""
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import hostile
import pmtest
from pmtest import check, check_eq


def status(pid, tid=None):
    p = "/proc/%d/status" % pid if tid is None else "/proc/%d/task/%d/status" % (pid, tid)
    out = {}
    with open(p) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def main():
    d = pmtest.Daemon(start=False)
    os.symlink("/etc/passwd", os.path.join(d.root, "pub", "passwd"))
    os.symlink("/etc", os.path.join(d.root, "pub", "etc"))
    newroot = tempfile.mkdtemp(prefix="pm-sandbox-newroot-")
    try:
        with open(os.path.join(newroot, "NEWFILE"), "w") as f:
            f.write("a file outside everything the daemon was given\n")
        os.chmod(newroot, 0o755)
        os.chmod(os.path.join(newroot, "NEWFILE"), 0o644)
        d.start()
        with d:
            run(d, newroot)
    finally:
        shutil.rmtree(newroot, ignore_errors=True)
    pmtest.done()


def run(d, newroot):
    root = os.geteuid() == 0
    nobody = pwd.getpwnam("nobody")
    want_uid = nobody.pw_uid if root else os.geteuid()
    want_gid = nobody.pw_gid if root else os.getegid()
    # the ports answer as soon as they are bound, before the privilege
    # drop: wait until the daemon says it is ready (sandbox entered)
    check("daemon logged ready", d.wait_log("ready: root", timeout=30))
    st = status(d.pid)
    check_eq("Uid: real, effective, saved, fs are the service user",
             "%d\t%d\t%d\t%d" % ((want_uid,) * 4), st.get("Uid"))
    check_eq("Gid: real, effective, saved, fs are the service group",
             "%d\t%d\t%d\t%d" % ((want_gid,) * 4), st.get("Gid"))
    if root:
        check_eq("no supplementary groups", "", st.get("Groups"))
    check_eq("NoNewPrivs: 1", "1", st.get("NoNewPrivs"))
    check_eq("Seccomp: 2 (filter mode)", "2", st.get("Seccomp"))
    check("Seccomp_filters: at least 1", int(st.get("Seccomp_filters", "0")) >= 1, st)
    check_eq("CapEff: none", "0000000000000000", st.get("CapEff"))
    check_eq("CapPrm: none", "0000000000000000", st.get("CapPrm"))
    check_eq("CapAmb: none", "0000000000000000", st.get("CapAmb"))
    tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % d.pid))
    check("daemon has its worker threads (%d)" % len(tids), len(tids) >= 3)
    bad = []
    for t in tids:
        ts = status(d.pid, t)
        if ts.get("Seccomp") != "2" or ts.get("NoNewPrivs") != "1" or \
                ts.get("Uid") != st.get("Uid") or ts.get("CapEff") != "0000000000000000":
            bad.append((t, ts.get("Name"), ts.get("Uid"), ts.get("Seccomp")))
    check_eq("every thread is confined the same way", [], bad)
    log = d.log_text()
    check("log: landlock ruleset in force",
          "sandbox: landlock ABI" in log and "everything else denied" in log, log[-600:])
    check("log: seccomp allowlist in force", "sandbox: seccomp:" in log, log[-600:])

    # symlinks out of the root are not followed
    code, body = hostile.https_status(d, "/pub/passwd")
    check_eq("HTTPS: symlink to /etc/passwd answers 404", 404, code)
    check("HTTPS: /etc/passwd content not sent", b"root:" not in body)
    code, _ = hostile.https_status(d, "/pub/etc/passwd")
    check_eq("HTTPS: through a symlink to /etc answers 404", 404, code)
    c = hostile.Ctl(d)
    c.reply()
    c.login()
    check_eq("FTP: SIZE of a symlink to /etc/passwd answers 550", 550,
             c.cmd("SIZE pub/passwd")[0])
    check_eq("FTP: CWD into a symlink to /etc answers 550", 550, c.cmd("CWD pub/etc")[0])
    c.cmd("QUIT")
    c.close()

    # Landlock: the new root is readable by nobody (DAC allows it) ...
    if root:
        r = subprocess.run(["setpriv", "--reuid=%d" % want_uid, "--regid=%d" % want_gid,
                            "--clear-groups", "cat", os.path.join(newroot, "NEWFILE")],
                           capture_output=True, timeout=10)
        check("a separate process as nobody can read the new root (DAC allows it)",
              r.returncode == 0 and b"outside everything" in r.stdout, r.stderr)
    # ... but the daemon, confined to what it was given at start, cannot
    d.write_conf({"root": newroot})
    d.reload()
    check("after SIGHUP with root moved outside the sandbox: 'cannot open the root' logged",
          d.wait_log('cannot open the root "%s": Permission denied' % newroot), d.log_text()[-800:])
    code, body = hostile.https_status(d, "/NEWFILE")
    check_eq("the file under the new root is not served (404)", 404, code)
    code, _ = hostile.https_status(d, "/README")
    check_eq("the old tree is still served (200)", 200, code)
    check("daemon still running", d.proc.poll() is None)
    hostile.stopped_clean(d)


main()
