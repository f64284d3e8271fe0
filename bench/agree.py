"""Whether two files of output rows (comma-separated, one row per line)
agree: prints "N/M bit-identical, max diff D" where D is the largest
difference relative to its row's largest |output|, and "DIFFER" after it
when D > 1e-5 or a row's argmax differs.
usage: agree.py A B"""
import struct
import sys


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def main():
    a = [[float(v) for v in l.split(",")] for l in open(sys.argv[1]) if l.strip()]
    b = [[float(v) for v in l.split(",")] for l in open(sys.argv[2]) if l.strip()]
    same = total = flips = 0
    worst = 0.0
    for ra, rb in zip(a, b):
        scale = max(max(abs(v) for v in ra), 1e-30)
        for x, y in zip(ra, rb):
            total += 1
            same += f32(x) == f32(y)
            worst = max(worst, abs(x - y) / scale)
        flips += ra.index(max(ra)) != rb.index(max(rb))
    bad = len(a) != len(b) or worst > 1e-5 or flips
    print(f"{same}/{total} bit-identical, max diff {worst:.1e}{' DIFFER' if bad else ''}")


if __name__ == "__main__":
    main()
