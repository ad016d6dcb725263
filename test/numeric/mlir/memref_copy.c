/* The one runtime function that MLIR 14's memref lowering calls for a copy between strided
 * memrefs (memref.copy with a non-identity layout): `memrefCopy(element size, source,
 * destination)`, each an unranked memref {rank, descriptor}. A descriptor is {allocated,
 * aligned, offset, sizes[rank], strides[rank]} (in elements). Written here rather than taken
 * from MLIR's runner-utils library, which Debian's mlir-14-tools does not ship. */
#include <stdint.h>
#include <string.h>

typedef struct {
  int64_t rank;
  void *descriptor;
} UnrankedMemRef;

typedef struct {
  char *allocated, *aligned;
  int64_t offset, sizesAndStrides[];
} Descriptor;

static void copyDim(int64_t elem, int64_t rank, int64_t d, const Descriptor *src,
                    const Descriptor *dst, int64_t srcAt, int64_t dstAt) {
  const int64_t size = src->sizesAndStrides[d];
  const int64_t srcStride = src->sizesAndStrides[rank + d];
  const int64_t dstStride = dst->sizesAndStrides[rank + d];
  for (int64_t i = 0; i < size; ++i) {
    if (d + 1 == rank)
      memcpy(dst->aligned + (dstAt + i * dstStride) * elem,
             src->aligned + (srcAt + i * srcStride) * elem, (size_t)elem);
    else
      copyDim(elem, rank, d + 1, src, dst, srcAt + i * srcStride, dstAt + i * dstStride);
  }
}

void memrefCopy(int64_t elem, UnrankedMemRef *src, UnrankedMemRef *dst) {
  const Descriptor *s = src->descriptor, *t = dst->descriptor;
  if (src->rank == 0) {
    memcpy(t->aligned + t->offset * elem, s->aligned + s->offset * elem, (size_t)elem);
    return;
  }
  copyDim(elem, src->rank, 0, s, t, s->offset, t->offset);
}
