"""Hostile rsync:// clients from other loopback addresses while a good
rsync client pulls a 64 MiB file: garbage instead of a greeting, an
over-long greeting line, endless arguments, a bad negotiation, a file-list
request naming no module path, an out-of-range file index, a huge block
count, a multiplex frame of an unknown kind, a client that never reads
while a large file is sent, one that never writes.  Each is refused or cut
off alone; the good pull is byte-exact and the daemon still serves."""
import os
import socket
import struct
import threading
import time

import hostile
import pmtest
import rsynctest
from pmtest import check

rsynctest.need_rsync()


def conn(d, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(15)
    s.bind((src, 0))
    s.connect(("127.0.0.1", d.rsync_port))
    return s


def read_all(s, limit=1 << 20):
    out = b""
    try:
        while len(out) < limit:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    return out


def to_setup(d, src, args=b"--server\0--sender\0-vlogDtpre.iLsfxCIvu\0.\0mirror/\0\0"):
    """Handshake up to the multiplexed stream; returns the socket."""
    s = conn(d, src)
    s.sendall(b"@RSYNCD: 31.0\nmirror\n")
    buf = b""
    while b"@RSYNCD: OK\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise RuntimeError("no OK: %r" % buf)
        buf += b
    s.sendall(args)
    s.recv(5)  # compat flags varint (2 bytes) + "md5" vstring (4 bytes)
    s.sendall(b"\x03md5")
    return s


def frame(payload, code=0):
    return struct.pack("<I", ((7 + code) << 24) | len(payload)) + payload


def closed_soon(s, secs=20):
    s.settimeout(secs)
    try:
        while s.recv(65536):
            pass
        return True
    except OSError as e:
        return isinstance(e, ConnectionResetError)


def main():
    d = rsynctest.daemon()
    with d:
        try:
            digest = hostile.make_tree_file(d.root, "pub/big.bin", 64 * 1024 * 1024)
            time.sleep(2)
            good = {}
            dst = os.path.join(d.tmp, "good")
            os.mkdir(dst)

            def pull():
                good["rc"], good["out"] = rsynctest.run(
                    "-a", "--bwlimit=8m", rsynctest.url(d, "mirror/pub/big.bin"), dst + "/")
            t = threading.Thread(target=pull)
            t.start()

            s = conn(d, "127.0.0.2")
            s.sendall(b"\x00\xff GET / HTTP/1.1\r\n\r\n\n")
            check("garbage greeting: a protocol error line",
                  b"@ERROR: protocol startup error" in read_all(s))
            s.close()

            s = conn(d, "127.0.0.3")
            s.sendall(b"@RSYNCD: " + b"9" * 5000 + b"\n")
            check("over-long greeting line: cut off", closed_soon(s))
            s.close()

            s = conn(d, "127.0.0.4")
            s.sendall(b"@RSYNCD: 29.0\nmirror\n")
            check("protocol 29 is refused by name",
                  b"needs protocol 30" in read_all(s))
            s.close()

            s = conn(d, "127.0.0.5")
            s.sendall(b"@RSYNCD: 31.0\nmirror\n")
            try:
                for _ in range(200):
                    s.sendall(b"-v\0" * 100)
            except OSError:
                pass
            check("endless arguments: cut off", closed_soon(s))
            s.close()

            s = to_setup(d, "127.0.0.6")
            s.sendall(b"")
            s.close()

            s = conn(d, "127.0.0.7")
            s.sendall(b"@RSYNCD: 31.0\nmirror\n")
            while b"OK" not in s.recv(4096):
                pass
            s.sendall(b"--server\0--sender\0-vre.iLsfxCIvu\0.\0mirror/\0\0")
            s.recv(6)
            s.sendall(b"\xff\xff" + b"x" * 100)  # a vstring longer than allowed
            check("over-long negotiation string: cut off", closed_soon(s))
            s.close()

            s = to_setup(d, "127.0.0.8")
            s.sendall(frame(struct.pack("<i", 1 << 30)))  # a 1 GiB filter rule
            out = read_all(s)
            check("huge filter-list entry: refused with a message", b"filter rules" in out, out[-200:])
            s.close()

            s = to_setup(d, "127.0.0.9")
            s.sendall(frame(struct.pack("<i", 0)))
            time.sleep(0.5)
            s.sendall(frame(b"\xfe\x80\x00\x10\x00"))  # ndx 0x100000: out of range
            check("out-of-range file index: cut off", closed_soon(s))
            s.close()

            s = to_setup(d, "127.0.0.10")
            s.sendall(frame(struct.pack("<i", 0)))
            time.sleep(0.5)
            s.sendall(frame(b"\x01\x00\x80" + struct.pack("<iiii", 1 << 30, 700, 16, 0)))
            check("huge block count: cut off", closed_soon(s))
            s.close()

            s = to_setup(d, "127.0.0.11")
            s.sendall(frame(b"junk", code=77))
            check("unknown multiplex message: cut off", closed_soon(s))
            s.close()

            # a client that asks for the big file and never reads
            stuck = to_setup(d, "127.0.0.12", b"--server\0--sender\0-vre.iLsfxCIvu\0.\0mirror/pub/big.bin\0\0")
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.sendall(frame(struct.pack("<i", 0)))
            stuck.sendall(frame(b"\x01\x00\x80" + struct.pack("<iiii", 0, 0, 16, 0)))
            # a client that never writes
            mute = conn(d, "127.0.0.13")

            t.join(300)
            check("the good pull finished byte-exact", good.get("rc") == 0 and
                  pmtest.file_sha256(os.path.join(dst, "big.bin")) == digest, good.get("out"))
            rc, out = rsynctest.run("rsync://127.0.0.1:%d/" % d.rsync_port)
            check("the daemon still lists the module", rc == 0 and "mirror" in out, out)
            check("a silent client is closed by the handshake timeout", closed_soon(mute, 60))
            stuck.close()
            mute.close()
            check("the daemon is alive", d.proc.poll() is None)
        finally:
            d.cleanup()
    pmtest.done()


main()
