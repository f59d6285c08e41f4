"""SIGHUP while two 1 GiB downloads run, one over FTPS (ftplib, PROT P) and
one over HTTPS (curl): both finish byte-exact; the reload is applied; a
bad configuration sent with a second SIGHUP is refused with its reason
logged while the old one stays in force; a changed listen address is
warned about and the old one keeps serving."""
import os
import signal
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ftplib  # noqa: E402
import pmtest  # noqa: E402

SIZE = 1 << 30
NAME = "pub/big-1GiB.bin"
CHUNK = 1 << 20


def make_big(path):
    """A sparse 1 GiB file with a random MiB every 64 MiB (fast to make,
    still catches any misplaced block); returns its sha256."""
    with open(path, "wb") as f:
        for off in range(0, SIZE, 64 << 20):
            f.seek(off)
            f.write(os.urandom(CHUNK))
        f.truncate(SIZE)
    return pmtest.file_sha256(path)


Fetch = pmtest.Fetch


def ftps_get(d, st):
    try:
        ctx = ssl.create_default_context(cafile=d.cert)
        ctx.check_hostname = False
        f = ftplib.FTP_TLS(context=ctx, timeout=60)
        f.connect("127.0.0.1", d.ftp_port)
        f.login("anonymous", "reload@example.org")
        f.prot_p()
        f.retrbinary("RETR " + NAME, st.feed, blocksize=CHUNK)
        f.quit()
    except Exception as e:  # reported by the main thread
        st.error = repr(e)
    st.done = True


def https_get(d, st):
    st.curl(d, "/" + NAME, 110, CHUNK)


def main():
    d = pmtest.Daemon(start=False, sets={"rate_per_ip": "256M"})
    try:
        # As deployed: the service user (after the privilege drop) can read
        # the configuration it re-reads on SIGHUP.
        os.chmod(d.tmp, 0o755)
        os.chmod(d.conf, 0o644)
        want = make_big(os.path.join(d.root, NAME))
        d.start()
        a, b = Fetch(), Fetch()
        ta = threading.Thread(target=ftps_get, args=(d, a), daemon=True)
        tb = threading.Thread(target=https_get, args=(d, b), daemon=True)
        ta.start()
        tb.start()
        end = time.time() + 30
        while time.time() < end and (a.bytes < (32 << 20) or b.bytes < (32 << 20)):
            if a.done or b.done:
                break
            time.sleep(0.05)
        pmtest.check("both transfers under way before the reload",
                     a.bytes > 0 and b.bytes > 0 and not a.done and not b.done,
                     "ftps %d, https %d" % (a.bytes, b.bytes))

        # A good reload, with a changed value that shows it was applied.
        d.write_conf({"ftp_banner": "reloaded banner"})
        d.reload()
        pmtest.check("reload logged done", d.wait_log("reload done", 10), d.log_text()[-2000:])
        pmtest.check("transfers still running across the reload",
                     not a.done and not b.done and a.bytes < SIZE and b.bytes < SIZE,
                     "ftps %d, https %d" % (a.bytes, b.bytes))

        # A bad one: refused with the reason, the process keeps serving.
        d.write_conf({"ftp_banner": "reloaded banner", "max_clients": "banana"})
        d.reload()
        pmtest.check("bad reload refused", d.wait_log("reload refused", 10),
                     d.log_text()[-2000:])
        text = d.log_text()
        line = [l for l in text.splitlines() if "reload refused" in l]
        pmtest.check("refusal names the key and the file",
                     bool(line) and "max_clients" in line[-1] and "pubmirror.conf" in line[-1],
                     line)
        d.write_conf({"ftp_banner": "reloaded banner"})
        pmtest.check("unchanged listeners: no restart warning",
                     "change only on restart" not in d.log_text(), d.log_text()[-2000:])

        # Listen addresses are bound once: a changed one is warned about and
        # the old one keeps serving (checked below on d.ftp_port).
        d.write_conf({"ftp_banner": "reloaded banner",
                      "ftp_listen": "127.0.0.1:%d" % pmtest.free_port()})
        d.reload()
        pmtest.check("changed listener: restart warning",
                     d.wait_log("change only on restart", 10), d.log_text()[-2000:])
        d.write_conf({"ftp_banner": "reloaded banner"})

        ta.join(110)
        tb.join(110)
        pmtest.check("FTPS download finished without error", a.done and a.error is None,
                     a.error)
        pmtest.check("HTTPS download finished without error", b.done and b.error is None,
                     b.error)
        pmtest.check_eq("FTPS bytes", SIZE, a.bytes)
        pmtest.check_eq("HTTPS bytes", SIZE, b.bytes)
        pmtest.check_eq("FTPS byte-exact (sha256)", want, a.sha.hexdigest())
        pmtest.check_eq("HTTPS byte-exact (sha256)", want, b.sha.hexdigest())

        # Still serving, with the reloaded configuration (the banner).
        f = ftplib.FTP()
        f.connect("127.0.0.1", d.ftp_port, timeout=10)
        pmtest.check("new session sees the reloaded banner", "reloaded banner" in f.welcome,
                     f.welcome)
        f.close()
        r = d.curl("-I", path="/pub/")
        pmtest.check("HTTPS answers after both reloads", b" 200" in r.stdout.split(b"\r\n")[0],
                     r.stdout[:200])
        pmtest.check("process alive", d.proc.poll() is None)
    except Exception:
        sys.stdout.write("# daemon log:\n" + "".join(
            "# " + l + "\n" for l in d.log_text().splitlines()[-40:]))
        raise
    finally:
        d.cleanup()
    pmtest.done()


if __name__ == "__main__":
    main()
