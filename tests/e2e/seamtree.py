"""Shared piece of the t_seam_* tests: a small served tree with symlinks
that lead into a protected directory, a hidden file and a directory alias.
Not a test itself (tests/run.sh runs only t_*)."""
import os
import tempfile

SECRET = b"the quarterly report: protected data\n"
HIDDEN = b"a dot-file nobody may read\n"
PUBLIC = b"public release file\n"


def make():
    """A fresh tree; returns its path.  auth_paths = /private/ protects
    private/; pub/shortcut, pub/report-link.txt lead there; pub/dotlink
    leads to the hidden .secret; pub/rel-link is an alias of pub/releases."""
    top = tempfile.mkdtemp(prefix="pm-seam-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "root")
    for d in ("pub/releases/1.0", "private/docs"):
        os.makedirs(os.path.join(root, d))
    files = {
        "private/docs/report.txt": SECRET,
        ".secret": HIDDEN,
        "pub/releases/1.0/tool-1.0.tar.gz": PUBLIC,
        "pub/README": b"public tree\n",
    }
    for rel, data in files.items():
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
    os.symlink("../private", os.path.join(root, "pub/shortcut"))
    os.symlink("../private/docs/report.txt", os.path.join(root, "pub/report-link.txt"))
    os.symlink("../.secret", os.path.join(root, "pub/dotlink"))
    os.symlink("releases", os.path.join(root, "pub/rel-link"))
    for dp, dns, fns in os.walk(root):
        os.chmod(dp, 0o755)
        for n in fns:
            p = os.path.join(dp, n)
            if not os.path.islink(p):
                os.chmod(p, 0o644)
    return root
