"""A listing reached through a symlinked directory (/pub/rel-link/ ->
releases) names the path asked for in its title and breadcrumb, even
when the target's listing was rendered (and cached) just before."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmtest  # noqa: E402
import seamtree  # noqa: E402


def page(d, path):
    r = d.curl("-o", "-", path=path)
    return r.stdout.decode("utf-8", "replace")


def main():
    root = seamtree.make()
    with pmtest.Daemon(tree=root) as d:
        first = page(d, "/pub/releases/")
        pmtest.check("the target's listing", "1.0" in first and "/pub/releases/" in first,
                     first[:300])
        for n in range(2):
            p = page(d, "/pub/rel-link/")
            title = re.search(r"<title>(.*?)</title>", p, re.S)
            title = title.group(1) if title else ""
            pmtest.check("alias listing %d: title names /pub/rel-link/" % n,
                         "/pub/rel-link/" in title and "releases" not in title, title)
            pmtest.check("alias listing %d: breadcrumb links the path asked for" % n,
                         'rel-link' in p and "/pub/releases/" not in p and "1.0" in p,
                         p[:600])
        again = page(d, "/pub/releases/")
        pmtest.check("the target's listing still names its own path",
                     "/pub/releases/" in again and "rel-link" not in again.split("<tbody>")[0],
                     again[:300])
    pmtest.done()


main()
