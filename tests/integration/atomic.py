#!/usr/bin/env python3
"""A minimal iSCSI initiator for the WRITE ATOMIC(16) tests (shared.sh).

  atomic.py write HOST PORT IQN LBA BLOCKS COUNT [FIRST]
      COUNT atomic writes of BLOCKS blocks at LBA, the n-th (from FIRST,
      default 1) filled with byte (n - 1) % 250 + 1; prints "acked N"
      once each is GOOD; stops at the first error or a lost connection.
  atomic.py check HOST PORT IQN LBA BLOCKS [TIMES]
      reads the blocks (TIMES times, default once); prints "uniform V"
      when every byte of every read was one value, V the last, else
      "torn" and the values of the read that mixed them, and exits 1.

No authentication, no digests, one connection, LUN 0, 512-byte blocks;
the data goes as immediate data (ImmediateData=Yes).  Each process is an
initiator of its own (its pid in the name): a reader never reinstates
the writer's session.
"""
import os
import socket
import struct
import sys

BS = 512


def keys(d):
    s = "".join("%s=%s\0" % kv for kv in d)
    return s.encode()


class Conn:
    def __init__(self, host, port, iqn):
        self.s = socket.create_connection((host, int(port)))
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        self.login(iqn)

    def send(self, bhs, data=b""):
        pad = (-len(data)) % 4
        self.s.sendall(bytes(bhs) + data + b"\0" * pad)

    def recvn(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError("connection closed")
            b += c
        return b

    def recv(self):
        h = self.recvn(48)
        ahs = h[4] * 4
        dsl = int.from_bytes(h[5:8], "big")
        self.recvn(ahs)
        data = self.recvn(dsl + ((-dsl) % 4))[:dsl]
        return h, data

    def login(self, iqn):
        data = keys([("InitiatorName", "iqn.2025-01.test:atomic-%d" %
                      os.getpid()),
                     ("TargetName", iqn), ("SessionType", "Normal"),
                     ("HeaderDigest", "None"), ("DataDigest", "None"),
                     ("ImmediateData", "Yes"), ("InitialR2T", "Yes"),
                     ("FirstBurstLength", "262144"),
                     ("MaxBurstLength", "262144"),
                     ("MaxRecvDataSegmentLength", "262144")])
        for _ in range(4):
            bhs = bytearray(48)
            bhs[0] = 0x43                   # immediate Login Request
            bhs[1] = 0x80 | (1 << 2) | 3    # T, CSG op, NSG full feature
            bhs[5:8] = len(data).to_bytes(3, "big")
            bhs[8:14] = b"\x80\x12\x34\x56\x78\x9a"
            struct.pack_into(">IHxxII", bhs, 16, self.itt, 1, self.cmdsn,
                             self.expstatsn)
            self.send(bhs, data)
            h, _ = self.recv()
            if h[0] & 0x3f != 0x23 or h[36] != 0:
                raise RuntimeError("login refused: %d/%d" % (h[36], h[37]))
            self.expstatsn = struct.unpack_from(">I", h, 24)[0] + 1
            self.cmdsn = struct.unpack_from(">I", h, 28)[0]
            if h[1] & 0x80 and h[1] & 3 == 3:
                return
            data = b""
        raise RuntimeError("login did not reach full feature phase")

    def command(self, cdb, write=b"", read=0):
        bhs = bytearray(48)
        bhs[0] = 0x01
        bhs[1] = 0x80 | (0x20 if write else 0) | (0x40 if read else 0) | 1
        bhs[5:8] = len(write).to_bytes(3, "big")
        self.itt += 1
        struct.pack_into(">IIII", bhs, 16, self.itt, len(write) or read,
                         self.cmdsn, self.expstatsn)
        bhs[32:32 + len(cdb)] = cdb
        self.cmdsn += 1
        self.send(bhs, write)
        din = bytearray(read)
        while True:
            h, data = self.recv()
            op = h[0] & 0x3f
            if op == 0x25:                  # Data-In
                off = struct.unpack_from(">I", h, 40)[0]
                din[off:off + len(data)] = data
                if h[1] & 0x01:
                    self.expstatsn = struct.unpack_from(">I", h, 24)[0] + 1
                    return h[3], bytes(din)
            elif op == 0x21:                # SCSI Response
                self.expstatsn = struct.unpack_from(">I", h, 24)[0] + 1
                return h[3], bytes(din)
            elif op == 0x20 and h[20:24] != b"\xff\xff\xff\xff":
                nop = bytearray(48)         # a NOP-In that wants an echo
                nop[0] = 0x40
                nop[1] = 0x80
                nop[8:16] = h[8:16]
                nop[16:20] = b"\xff\xff\xff\xff"
                nop[20:24] = h[20:24]
                struct.pack_into(">II", nop, 24, self.cmdsn,
                                 self.expstatsn)
                self.send(nop)


def write_atomic(c, lba, blocks, value):
    cdb = struct.pack(">BBQHHBB", 0x9c, 0, lba, 0, blocks, 0, 0)
    status, _ = c.command(cdb, write=bytes([value]) * (blocks * BS))
    return status


def main():
    op, host, port, iqn, lba, blocks = sys.argv[1:7]
    lba, blocks = int(lba), int(blocks)
    c = Conn(host, port, iqn)
    if op == "write":
        count = int(sys.argv[7])
        first = int(sys.argv[8]) if len(sys.argv) > 8 else 1
        for n in range(first, first + count):
            status = write_atomic(c, lba, blocks, (n - 1) % 250 + 1)
            if status != 0:
                print("status 0x%02x at %d" % (status, n), flush=True)
                return 1
            print("acked %d" % n, flush=True)
        return 0
    times = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    cdb = struct.pack(">BBQIBB", 0x88, 0, lba, blocks, 0, 0)
    for _ in range(times):
        status, data = c.command(cdb, read=blocks * BS)
        if status != 0:
            print("read: status 0x%02x" % status)
            return 1
        found = sorted(set(data))
        if len(found) != 1:
            print("torn:", " ".join(str(v) for v in found[:16]))
            return 1
    print("uniform %d" % found[0])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (EOFError, OSError, RuntimeError) as e:
        print("lost: %s" % e, flush=True)
        sys.exit(2)
