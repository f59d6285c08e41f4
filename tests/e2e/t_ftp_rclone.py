"""rclone's FTP backend (MLSD, EPSV, explicit and implicit TLS): listing
with exact sizes, copies equal to the tree, uploads refused with nothing
written, and data-channel TLS session reuse under ftp_tls_reuse=required."""
import filecmp
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402


def rclone(*args):
    env = dict(os.environ, RCLONE_CONFIG="/dev/null")
    r = subprocess.run(["rclone"] + list(args), capture_output=True, timeout=90, env=env)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def main():
    with pmtest.Daemon() as d:
        pw = rclone("obscure", "you@example.org")[1].strip()
        remotes = {
            "plain": ":ftp,host=127.0.0.1,port=%d,user=anonymous,pass=%s:" % (d.ftp_port, pw),
            "explicit TLS": ":ftp,host=127.0.0.1,port=%d,user=anonymous,pass=%s,"
                            "explicit_tls=true,no_check_certificate=true:" % (d.ftp_port, pw),
            "implicit TLS": ":ftp,host=127.0.0.1,port=%d,user=anonymous,pass=%s,"
                            "tls=true,no_check_certificate=true:" % (d.ftps_port, pw),
        }
        src = os.path.join(d.root, "pub/hello")
        for label, remote in remotes.items():
            rc, out, err = rclone("lsl", remote + "pub/hello")
            st = os.stat(os.path.join(src, "hello-2.12.tar.gz"))
            pmtest.check("%s: lsl lists the exact size" % label,
                         rc == 0 and ("%d " % st.st_size) in out and "hello-2.12.tar.gz" in out,
                         err[-300:])
            work = tempfile.mkdtemp(prefix="pm-rclone-")
            rc, out, err = rclone("copy", remote + "pub/hello", work)
            cmp = filecmp.dircmp(src, work)
            pmtest.check("%s: copy equals the tree" % label,
                         rc == 0 and not cmp.left_only and not cmp.diff_files and
                         not cmp.right_only, err[-300:])
            rc, out, err = rclone("check", src, remote + "pub/hello", "--size-only")
            pmtest.check("%s: rclone check finds no difference" % label, rc == 0, err[-300:])
        up = tempfile.mkdtemp(prefix="pm-rclone-up-")
        with open(os.path.join(up, "upload.txt"), "w") as f:
            f.write("never on the server\n")
        rc, out, err = rclone("copy", up, remotes["plain"] + "pub", "--retries", "1",
                              "--low-level-retries", "1")
        pmtest.check("upload refused", rc != 0, err[-300:])
        pmtest.check("nothing written under the root",
                     not os.path.exists(os.path.join(d.root, "pub/upload.txt")))
    with pmtest.Daemon(sets={"ftp_tls_reuse": "required"}) as d:
        pw = rclone("obscure", "you@example.org")[1].strip()
        work = tempfile.mkdtemp(prefix="pm-rclone-reuse-")
        # One control connection: rclone shares one TLS session cache among
        # its connections, and a data connection that resumes a ticket of
        # another control connection is rightly refused.
        rc, out, err = rclone("copy", ":ftp,host=127.0.0.1,port=%d,user=anonymous,pass=%s,"
                              "explicit_tls=true,no_check_certificate=true,concurrency=1:"
                              "pub/hello" % (d.ftp_port, pw), work)
        pmtest.check("ftp_tls_reuse=required: rclone resumes and copies",
                     rc == 0 and "hello-2.12.tar.gz" in os.listdir(work), err[-300:])
    pmtest.done()


main()
