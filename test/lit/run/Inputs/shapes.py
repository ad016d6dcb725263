# Prints "NAME (shape) dtype" for every .npy file in a directory, sorted by name.
import os
import sys

import numpy as np

for name in sorted(os.listdir(sys.argv[1])):
    a = np.load(os.path.join(sys.argv[1], name))
    print(name, tuple(a.shape), a.dtype)
