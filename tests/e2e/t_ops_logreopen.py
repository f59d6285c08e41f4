"""SIGUSR1 reopens the log files, as logrotate expects (conf/logrotate.pubmirror):
after the access log and the transfer log are renamed and the signal is
sent, new HTTPS requests and FTP transfers land in new files of the same
names, and nothing more is written to the renamed ones.  The daemon runs
as the unprivileged service user by then (when started as root), so this
also proves the files were handed to that user."""
import io
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

FILE = "pub/hello/hello-2.12.tar.gz"


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def wait_for(path, needle, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        t = read(path)
        if t is not None and needle in t:
            return True
        time.sleep(0.05)
    return False


def ftp_fetch(d, name):
    f = ftplib.FTP(timeout=15)
    f.connect("127.0.0.1", d.ftp_port)
    f.login("anonymous", "rotate@example.org")
    out = io.BytesIO()
    f.retrbinary("RETR " + name, out.write)
    f.quit()
    return out.getvalue()


def main():
    with pmtest.Daemon() as d:
        # A logrotate-style directory: the service user may create files
        # there only if the rotation tool does it (create), so the daemon
        # reopens existing names or creates new ones as its user.
        os.chmod(d.tmp, 0o755)
        r = d.curl("-o", "/dev/null", path="/pub/?before-rotation")
        pmtest.check("request before rotation", r.returncode == 0, r.stderr)
        ftp_fetch(d, FILE)
        pmtest.check("access log written", wait_for(d.access_log, "before-rotation"))
        pmtest.check("xfer log written", wait_for(d.xfer_log, "hello-2.12.tar.gz"))

        os.rename(d.access_log, d.access_log + ".1")
        os.rename(d.xfer_log, d.xfer_log + ".1")
        # logrotate's "create": new empty files with the old owner and mode.
        for p in (d.access_log, d.xfer_log):
            st = os.stat(p + ".1")
            with open(p, "w"):
                pass
            os.chmod(p, st.st_mode & 0o777)
            os.chown(p, st.st_uid, st.st_gid)
        os.kill(d.pid, signal.SIGUSR1)
        pmtest.check("reopen logged", d.wait_log("log files reopened", 10), d.log_text()[-600:])
        pmtest.check("reopen had no error", "could not be reopened" not in d.log_text(),
                     d.log_text()[-600:])

        r = d.curl("-o", "/dev/null", path="/pub/?after-rotation")
        pmtest.check("request after rotation", r.returncode == 0, r.stderr)
        ftp_fetch(d, "pub/misc/mirrors.txt")
        pmtest.check("new access lines go to the new file",
                     wait_for(d.access_log, "after-rotation"), read(d.access_log))
        pmtest.check("new transfer lines go to the new file",
                     wait_for(d.xfer_log, "mirrors.txt"), read(d.xfer_log))
        old_access = read(d.access_log + ".1")
        old_xfer = read(d.xfer_log + ".1")
        pmtest.check("rotated access log keeps the old lines only",
                     "before-rotation" in old_access and "after-rotation" not in old_access,
                     old_access)
        pmtest.check("rotated xfer log keeps the old lines only",
                     "hello-2.12" in old_xfer and "mirrors.txt" not in old_xfer, old_xfer)
        new_access = read(d.access_log)
        pmtest.check("new access log has no old line", "before-rotation" not in new_access,
                     new_access)

        # Without "create": the daemon makes the file itself (the directory
        # is writable by it here).
        os.chmod(d.tmp, 0o777)
        os.rename(d.access_log, d.access_log + ".2")
        os.kill(d.pid, signal.SIGUSR1)
        time.sleep(0.3)
        d.curl("-o", "/dev/null", path="/pub/?third")
        pmtest.check("access log recreated by the daemon", wait_for(d.access_log, "third"),
                     d.log_text()[-600:])

        # The shipped logrotate configuration itself, run by logrotate.
        os.chmod(d.tmp, 0o755)
        with open(os.path.join(pmtest.TOP, "conf", "logrotate.pubmirror")) as f:
            conf = f.read()
        pmtest.check("shipped config rotates /var/log/pubmirror/*log",
                     "/var/log/pubmirror/*log {" in conf)
        conf = conf.replace("/var/log/pubmirror/*log", os.path.join(d.tmp, "*log"))
        conf = "\n".join("\t\tkill -USR1 %d" % d.pid if "systemctl kill" in l else l
                         for l in conf.splitlines()) + "\n"
        lr = os.path.join(d.tmp, "logrotate.conf")
        with open(lr, "w") as f:
            f.write(conf)
        os.chmod(lr, 0o644)
        for p in (d.access_log + ".1", d.access_log + ".2", d.xfer_log + ".1"):
            os.unlink(p)
        import subprocess
        r = subprocess.run(["logrotate", "-f", "-s", os.path.join(d.tmp, "lr.state"), lr],
                           capture_output=True, timeout=30)
        pmtest.check("logrotate ran", r.returncode == 0, r.stderr.decode()[-500:])
        pmtest.check("logrotate renamed the access log", os.path.exists(d.access_log + ".1"))
        time.sleep(0.3)
        d.curl("-o", "/dev/null", path="/pub/?after-logrotate")
        pmtest.check("after logrotate, lines go to the new access log",
                     wait_for(d.access_log, "after-logrotate"), read(d.access_log))
        pmtest.check("rotated file not written after logrotate",
                     "after-logrotate" not in (read(d.access_log + ".1") or ""))
        pmtest.check("still serving", d.proc.poll() is None)
    pmtest.done()


if __name__ == "__main__":
    main()
