"""A slow but steady FTPS reader and a chatty control connection are never
cut by the FTP timeouts: a download read at 3 MB/s for 20 s ends with 226
and the right sha256, and a session sending NOOP every 0.2 s for 12 s never
gets "421 Idle timeout".  (Timeout checks that compare a clock sample taken
before the sessions ran with timestamps the sessions set afterwards wrap
around and fire at once, whatever idle_timeout is.)  # pm-tsan"""
import time

import hostile
import pmtest
from hostile import check, check_eq


def main():
    d, digest = hostile.start_daemon(sets={"idle_timeout": "30"})
    with d:
        good = hostile.GoodDownloads(d)
        check("slow downloads started", good.started())
        c = hostile.Ctl(d, src="127.0.0.2")
        c.reply()
        check_eq("chatty client logs in", 230, c.login()[0])
        codes = set()
        end = time.time() + 12
        while time.time() < end:
            code, lines = c.cmd("NOOP")
            codes.add(code)
            if code != 200:
                print("# NOOP answered: %r" % lines)
                break
            time.sleep(0.2)
        check_eq("NOOP every 0.2 s for 12 s always answers 200", {200}, codes)
        c.close()
        time.sleep(max(0, 20 - (time.time() - end + 12)))
        check("slow downloads still running after 20 s", good.running())
        res = good.wait()
        check_eq("slow FTPS download complete and byte-exact", digest, res.get("ftps"))
        check_eq("slow HTTPS download complete and byte-exact", digest, res.get("https"))
        hostile.stopped_clean(d)
    pmtest.done()


main()
