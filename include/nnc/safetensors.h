/* safetensors: the weights file format PyTorch users share. Layout: an
 * 8-byte little-endian header size N, N bytes of JSON mapping each tensor
 * name to {"dtype", "shape", "data_offsets": [begin, end]}, then the raw
 * little-endian data. nnc reads and writes float32 ("F32") tensors only. */
#ifndef NNC_SAFETENSORS_H
#define NNC_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>

#include <stdio.h>

#include "nnc/diag.h"

enum { ST_MAX_DIMS = 8 };

typedef struct StTensor {
    char *name;
    size_t ndim;
    size_t shape[ST_MAX_DIMS];
    size_t count;   /* product of the shape */
    float *data;    /* owned by the StFile when read */
} StTensor;

/* One entry of the header's "__metadata__" (string to string). */
typedef struct StMeta {
    char *key;
    char *value;
} StMeta;

typedef struct StFile {
    StTensor *tensors;
    size_t n;
    StMeta *meta;   /* the file's metadata, in file order (format, producer, ...) */
    size_t n_meta;
} StFile;

/* Reads and validates a whole file: sizes, JSON, dtypes, shapes, offsets in
 * range and not overlapping. Every problem is reported naming the file (and
 * the tensor); returns false then, with nothing to free. */
bool st_read(Diag *d, const char *path, StFile *out);
/* The same from the len bytes at buf; name stands for the file in messages.
 * The data is copied out: buf may be freed afterwards. */
bool st_read_buffer(Diag *d, const char *name, const unsigned char *buf, size_t len,
                    StFile *out);
void st_free(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
/* The metadata value under key, or NULL. */
const char *st_meta(const StFile *f, const char *key);

/* Writes the tensors (data borrowed from the caller) atomically. */
bool st_write(Diag *d, const char *path, const StTensor *tensors, size_t n);
/* The same with n_meta metadata entries after nnc's format and producer. */
bool st_write_meta(Diag *d, const char *path, const StTensor *tensors, size_t n,
                   const StMeta *meta, size_t n_meta);
/* The same bytes to an open stream; false when out of memory or the stream
 * failed. */
bool st_write_stream(FILE *f, const StTensor *tensors, size_t n, const StMeta *meta,
                     size_t n_meta);

#endif
