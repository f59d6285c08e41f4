"""rsync:// with the real rsync client: module list and MOTD, a full pull
byte-exact (diff -r) without hidden or protected entries, a second pull
that transfers nothing, --list-only, --delete, --checksum, -z, and the
read-only refusals (uploads, --remove-source-files) on the client's
screen."""
import os
import shutil
import subprocess
import tempfile

import pmtest
import rsynctest
from pmtest import check, check_eq

rsynctest.need_rsync()
tmp = tempfile.mkdtemp(prefix="pm-rsync-")
motd = os.path.join(tmp, "motd")
with open(motd, "w") as f:
    f.write("Welcome to the test mirror\n@RSYNCD: EXIT\n")
os.chmod(tmp, 0o755)
os.chmod(motd, 0o644)
hp = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True)
htpasswd = os.path.join(tmp, "htpasswd")
with open(htpasswd, "w") as f:
    f.write("alice:" + hp.stdout.strip() + "\n")
os.chmod(htpasswd, 0o644)

with rsynctest.daemon(sets={"rsync_motd": motd, "rsync_module": "pub-mirror",
                            "auth_file": htpasswd, "auth_paths": "/pub/hello"}) as d:
    try:
        rc, out = rsynctest.run("rsync://127.0.0.1:%d/" % d.rsync_port)
        check_eq("module list exits 0", 0, rc)
        check("module list names the module", "pub-mirror" in out, out)
        check("the MOTD is shown", "Welcome to the test mirror" in out, out)
        check("a MOTD line cannot end the module list", " @RSYNCD: EXIT" in out, out)

        rc, out = rsynctest.run(rsynctest.url(d, "nosuch/"), os.path.join(tmp, "x"))
        check("an unknown module is refused by name",
              rc != 0 and "Unknown module 'nosuch'" in out, out)

        dst = os.path.join(tmp, "dst")
        rc, out = rsynctest.run("-av", rsynctest.url(d, "pub-mirror/"), dst + "/")
        check_eq("full pull exits 0", 0, rc)
        # What the tree holds that must not be sent: dot-files and the
        # protected prefix.
        expect = os.path.join(tmp, "expect")
        shutil.copytree(d.root, expect)
        shutil.rmtree(os.path.join(expect, "pub", "hello"))
        for n in os.listdir(expect):
            if n.startswith("."):
                p = os.path.join(expect, n)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        same, diff = rsynctest.same_tree(expect, dst)
        check("full pull is byte-exact (diff -r)", same, diff)
        check("protected /pub/hello is absent", not os.path.exists(
            os.path.join(dst, "pub", "hello")))
        check("dot-files are absent", not any(n.startswith(".") for n in os.listdir(dst)))

        rc, out = rsynctest.run("-av", "--stats", rsynctest.url(d, "pub-mirror/"), dst + "/")
        check_eq("second pull exits 0", 0, rc)
        check_eq("second pull transfers no file", 0,
                 rsynctest.stat_value(out, "Number of regular files transferred"))

        rc, out = rsynctest.run("-av", rsynctest.url(d, "pub-mirror/pub/hello/"),
                                os.path.join(tmp, "h") + "/")
        check("a protected path cannot be pulled by name", rc != 0, out)

        rc, out = rsynctest.run("--list-only", rsynctest.url(d, "pub-mirror/"))
        check_eq("--list-only exits 0", 0, rc)
        check("--list-only lists README and pub", " README" in out and " pub" in out, out)
        rc, out = rsynctest.run("-r", "--list-only", rsynctest.url(d, "pub-mirror/"))
        check("recursive --list-only shows a file deep down",
              "pub/misc/mirrors.txt" in out and "hello" not in out, out)

        with open(os.path.join(dst, "stale.txt"), "w") as f:
            f.write("not on the mirror\n")
        rc, out = rsynctest.run("-av", "--delete", rsynctest.url(d, "pub-mirror/"), dst + "/")
        check("--delete removes a file the mirror lacks",
              rc == 0 and not os.path.exists(os.path.join(dst, "stale.txt")), out)

        with open(os.path.join(dst, "README"), "r+b") as f:
            f.write(b"X")  # same size; restore the mtime: only -c notices
        st = os.stat(os.path.join(d.root, "README"))
        os.utime(os.path.join(dst, "README"), (st.st_atime, st.st_mtime))
        rc, out = rsynctest.run("-avc", rsynctest.url(d, "pub-mirror/"), dst + "/")
        same, diff = rsynctest.same_tree(expect, dst)
        check("--checksum finds and repairs a same-size, same-mtime change",
              rc == 0 and same, out + diff)

        # The checksum: sha1 (OpenSSL) when the client offers it, md5 when
        # it offers only that, a clear refusal when it offers neither.
        rc, out = rsynctest.run("-a", "--debug=nstr", rsynctest.url(d, "pub-mirror/"),
                                os.path.join(tmp, "ds") + "/")
        check("a current client negotiates sha1", rc == 0 and
              "negotiated checksum: sha1" in out, out)
        dm = os.path.join(tmp, "dm")
        md5 = {"RSYNC_CHECKSUM_LIST": "md5"}
        rc, out = rsynctest.run("-a", "--debug=nstr", rsynctest.url(d, "pub-mirror/"),
                                dm + "/", env=md5)
        same, diff = rsynctest.same_tree(expect, dm)
        check("a client offering only md5 gets md5 and a byte-exact pull",
              rc == 0 and "negotiated checksum: md5" in out and same, out + diff)
        with open(os.path.join(dm, "README"), "ab") as f:
            f.write(b"local change")  # size differs: a delta against the basis
        rc, out = rsynctest.run("-a", "--no-whole-file", "--stats",
                                rsynctest.url(d, "pub-mirror/"), dm + "/", env=md5)
        same, diff = rsynctest.same_tree(expect, dm)
        check("md5 block sums repair a changed file", rc == 0 and same and
              rsynctest.stat_value(out, "Number of regular files transferred") == 1,
              out + diff)
        rc, out = rsynctest.run("-avc", rsynctest.url(d, "pub-mirror/"), dm + "/", env=md5)
        check("--checksum with md5 file sums", rc == 0, out)
        rc, out = rsynctest.run("-a", rsynctest.url(d, "pub-mirror/"),
                                os.path.join(tmp, "dx") + "/", env={"RSYNC_CHECKSUM_LIST": "xxh128"})
        check("a client offering neither sha1 nor md5 is told so", rc != 0 and
              "negotiate" in out and "md5" in out, out)

        dz = os.path.join(tmp, "dz")
        rc, out = rsynctest.run("-avz", rsynctest.url(d, "pub-mirror/"), dz + "/")
        same, diff = rsynctest.same_tree(expect, dz)
        check("-z pull is byte-exact", rc == 0 and same, out + diff)

        up = os.path.join(tmp, "up.txt")
        with open(up, "w") as f:
            f.write("upload\n")
        rc, out = rsynctest.run(up, rsynctest.url(d, "pub-mirror/"))
        check("an upload is refused with a clear message",
              rc != 0 and "module is read only" in out, out)
        check("nothing was written into the tree",
              not os.path.exists(os.path.join(d.root, "up.txt")))
        rc, out = rsynctest.run("-a", "--remove-source-files",
                                rsynctest.url(d, "pub-mirror/README"), os.path.join(tmp, "r1"))
        check("--remove-source-files is refused by name",
              rc != 0 and "--remove-source-files is refused" in out, out)
        check("README is still there", os.path.exists(os.path.join(d.root, "README")))
        rc, out = rsynctest.run("-a", "--exclude=*.asc", rsynctest.url(d, "pub-mirror/"),
                                os.path.join(tmp, "ex") + "/")
        check("filter rules are refused with a message", rc != 0 and "filter rules" in out, out)
        d.stop()
        with open(d.access_log) as f:
            log = f.read()
        check("the access log has rsync lines", "RSYNC /" in log and "rsync/30" in log, log)
    finally:
        d.cleanup()
shutil.rmtree(tmp, ignore_errors=True)
pmtest.done()
