"""Rewrites the .npy files of a cellc run input directory the ways writers do, or compares
the output directories of runs on them.

usage: npy_versions.py write IN OUT   writes OUT/v1, OUT/v2, OUT/v3 (numpy's format versions
                                      1.0, 2.0 and 3.0), OUT/f64 (float64, same values) and
                                      OUT/align16 (header padded to 16 bytes, as numpy before
                                      1.14 and cnpy write it)
       npy_versions.py compare REF DIR...   prints how many DIRs hold the same arrays as REF
"""
import os
import struct
import sys

import numpy as np
import numpy.lib.format as fmt


def align16(a):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (a.dtype.str, a.shape)
    header += " " * ((16 - (10 + len(header) + 1) % 16) % 16) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + a.tobytes()


def write(src, out):
    for name in sorted(os.listdir(src)):
        a = np.load(os.path.join(src, name))
        for kind in ("v1", "v2", "v3", "f64", "align16"):
            os.makedirs(os.path.join(out, kind), exist_ok=True)
            with open(os.path.join(out, kind, name), "wb") as f:
                if kind == "f64":
                    np.save(f, a.astype(np.float64))
                elif kind == "align16":
                    f.write(align16(a))
                else:
                    fmt.write_array(f, a, version=(int(kind[1]), 0))


def compare(ref, dirs):
    names = sorted(os.listdir(ref))
    same = 0
    for d in dirs:
        if sorted(os.listdir(d)) != names:
            print("%s: files %s, expected %s" % (d, sorted(os.listdir(d)), names))
            continue
        diff = [n for n in names
                if not np.array_equal(np.load(os.path.join(ref, n)), np.load(os.path.join(d, n)))]
        if diff:
            print("%s: differs in %s" % (d, diff))
        else:
            same += 1
    print("%d output sets equal to the reference, %d files each" % (same, len(names)))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        compare(sys.argv[2], sys.argv[3:])
