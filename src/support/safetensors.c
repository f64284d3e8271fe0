/* safetensors reader and writer (see nnc/safetensors.h). The JSON header is
 * read and written with cJSON; everything about the file is validated before
 * any of it is used, because weights files come from anywhere. */
#include "nnc/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nnc/fileio.h"
#include "nnc/version.h"

/* The reference implementation refuses headers over 100 MB; so do we. */
enum { ST_MAX_HEADER = 100 * 1000 * 1000 };

static uint64_t read_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void write_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static float read_le_float(const unsigned char *p)
{
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void write_le_float(unsigned char *p, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < 4; i++, bits >>= 8)
        p[i] = (unsigned char)(bits & 0xff);
}

void st_free(StFile *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    f->tensors = NULL;
    f->n = 0;
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    f->meta = NULL;
    f->n_meta = 0;
}

const char *st_meta(const StFile *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

const StTensor *st_find(const StFile *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

static bool read_whole_file(Diag *d, const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, loc_none(), "cannot open weights file '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        diag_error(d, loc_none(), "cannot read weights file '%s': not a regular file", path);
        return false;
    }
    bool ok = fseek(f, 0, SEEK_END) == 0;
    long size = ok ? ftell(f) : -1;
    ok = ok && size >= 0 && fseek(f, 0, SEEK_SET) == 0;
    *buf = ok ? malloc((size_t)size + 1) : NULL;
    ok = *buf && fread(*buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) {
        free(*buf);
        *buf = NULL;
        diag_error(d, loc_none(), "cannot read weights file '%s'", path);
        return false;
    }
    *len = (size_t)size;
    return true;
}

/* A JSON number that is a whole, non-negative value fitting size_t. */
static bool json_size(const cJSON *item, size_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != (double)(uint64_t)v)
        return false;
    *out = (size_t)v;
    return true;
}

typedef struct Reader {
    Diag *d;
    const char *path;
    const unsigned char *data; /* the byte buffer after the header */
    size_t data_len;
} Reader;

static bool tensor_fail(Reader *r, const char *name, const char *what)
{
    diag_error(r->d, loc_none(), "%s: tensor '%s': %s", r->path, name, what);
    return false;
}

static bool parse_shape(Reader *r, const char *name, const cJSON *shape, StTensor *t)
{
    if (!cJSON_IsArray(shape))
        return tensor_fail(r, name, "missing or malformed \"shape\" (expected a list of sizes)");
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return tensor_fail(r, name, "too many dimensions");
    t->ndim = (size_t)ndim;
    t->count = 1;
    for (int i = 0; i < ndim; i++) {
        if (!json_size(cJSON_GetArrayItem(shape, i), &t->shape[i]))
            return tensor_fail(r, name, "a \"shape\" entry is not a non-negative integer");
        if (__builtin_mul_overflow(t->count, t->shape[i], &t->count))
            return tensor_fail(r, name, "shape is too large");
    }
    return true;
}

/* Fills t from one header entry; begin and end receive its byte range. */
static bool parse_tensor(Reader *r, const cJSON *entry, StTensor *t, size_t *begin, size_t *end)
{
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return tensor_fail(r, name, "header entry is not an object");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype))
        return tensor_fail(r, name, "missing \"dtype\"");
    if (strcmp(dtype->valuestring, "F32") != 0) {
        diag_error(r->d, loc_none(), "%s: tensor '%s': dtype %s is not supported (nnc reads F32)",
                   r->path, name, dtype->valuestring);
        return false;
    }
    if (!parse_shape(r, name, cJSON_GetObjectItemCaseSensitive(entry, "shape"), t))
        return false;
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_size(cJSON_GetArrayItem(offs, 0), begin) ||
        !json_size(cJSON_GetArrayItem(offs, 1), end))
        return tensor_fail(r, name, "missing or malformed \"data_offsets\" (expected [begin, end])");
    if (*begin > *end || *end > r->data_len) {
        diag_error(r->d, loc_none(),
                   "%s: tensor '%s': data_offsets [%zu, %zu] are outside the %zu data bytes",
                   r->path, name, *begin, *end, r->data_len);
        return false;
    }
    size_t bytes;
    if (__builtin_mul_overflow(t->count, sizeof(float), &bytes) || bytes != *end - *begin) {
        diag_error(r->d, loc_none(),
                   "%s: tensor '%s': data_offsets hold %zu bytes but its shape needs %zu",
                   r->path, name, *end - *begin, t->count * sizeof(float));
        return false;
    }
    t->name = strdup(name);
    t->data = malloc(bytes ? bytes : 1);
    if (!t->name || !t->data)
        return tensor_fail(r, name, "out of memory");
    for (size_t i = 0; i < t->count; i++)
        t->data[i] = read_le_float(r->data + *begin + 4 * i);
    return true;
}

typedef struct Range {
    size_t begin, end;
    const char *name;
} Range;

static int range_cmp(const void *a, const void *b)
{
    const Range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Tensors may not share bytes: a file whose ranges overlap is corrupt. */
static bool check_overlaps(Reader *r, Range *ranges, size_t n)
{
    qsort(ranges, n, sizeof *ranges, range_cmp);
    for (size_t i = 1; i < n; i++) {
        if (ranges[i].begin < ranges[i - 1].end) {
            diag_error(r->d, loc_none(), "%s: tensors '%s' and '%s' overlap in the data", r->path,
                       ranges[i - 1].name, ranges[i].name);
            return false;
        }
    }
    return true;
}

/* "__metadata__": an object of strings, as the format says. */
static bool parse_meta(Reader *r, const cJSON *meta, StFile *out)
{
    if (!cJSON_IsObject(meta)) {
        diag_error(r->d, loc_none(), "%s: __metadata__ is not a JSON object", r->path);
        return false;
    }
    if (out->meta) { /* JSON allows a key twice; the format does not */
        diag_error(r->d, loc_none(), "%s: __metadata__ appears twice", r->path);
        return false;
    }
    size_t n = 0;
    for (const cJSON *e = meta->child; e; e = e->next)
        n++;
    out->meta = calloc(n ? n : 1, sizeof *out->meta);
    if (!out->meta)
        return false;
    for (const cJSON *e = meta->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            diag_error(r->d, loc_none(), "%s: metadata '%s' is not a string", r->path, e->string);
            return false;
        }
        StMeta *m = &out->meta[out->n_meta];
        m->key = strdup(e->string);
        m->value = strdup(e->valuestring);
        if (!m->key || !m->value) {
            free(m->key);
            free(m->value);
            return false;
        }
        out->n_meta++;
    }
    return true;
}

static bool parse_header(Reader *r, const cJSON *root, StFile *out)
{
    if (!cJSON_IsObject(root)) {
        diag_error(r->d, loc_none(), "%s: the header is not a JSON object", r->path);
        return false;
    }
    size_t n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        n += strcmp(e->string, "__metadata__") != 0;
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    Range *ranges = calloc(n ? n : 1, sizeof *ranges);
    bool ok = out->tensors && ranges;
    for (const cJSON *e = root->child; ok && e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            ok = parse_meta(r, e, out);
            continue;
        }
        if (st_find(out, e->string)) {
            diag_error(r->d, loc_none(), "%s: tensor '%s' appears twice", r->path, e->string);
            ok = false;
            break;
        }
        Range *rg = &ranges[out->n];
        rg->name = e->string;
        ok = parse_tensor(r, e, &out->tensors[out->n], &rg->begin, &rg->end);
        out->n++;
    }
    ok = ok && check_overlaps(r, ranges, out->n);
    free(ranges);
    return ok;
}

bool st_read_buffer(Diag *d, const char *name, const unsigned char *buf, size_t len, StFile *out)
{
    memset(out, 0, sizeof *out);
    Reader r = {d, name, NULL, 0};
    bool ok = false;
    uint64_t header_len = len >= 8 ? read_le64(buf) : 0;
    if (len < 8)
        diag_error(d, loc_none(), "%s: truncated: %zu bytes, not even the 8-byte header size",
                   name, len);
    else if (header_len > ST_MAX_HEADER || header_len > len - 8)
        diag_error(d, loc_none(), "%s: header size %llu is beyond the end of the %zu-byte file",
                   name, (unsigned long long)header_len, len);
    else {
        r.data = buf + 8 + header_len;
        r.data_len = len - 8 - (size_t)header_len;
        cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)header_len);
        if (!root)
            diag_error(d, loc_none(), "%s: the header is not valid JSON", name);
        else
            ok = parse_header(&r, root, out);
        cJSON_Delete(root);
    }
    if (!ok)
        st_free(out);
    return ok;
}

bool st_read(Diag *d, const char *path, StFile *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (!read_whole_file(d, path, &buf, &len))
        return false;
    bool ok = st_read_buffer(d, path, buf, len, out);
    free(buf);
    return ok;
}

static cJSON *header_entry(const StTensor *t, size_t begin)
{
    cJSON *e = cJSON_CreateObject();
    cJSON *shape = cJSON_AddArrayToObject(e, "shape");
    for (size_t i = 0; i < t->ndim; i++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[i]));
    cJSON_AddStringToObject(e, "dtype", "F32");
    cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
    cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(begin + t->count * 4)));
    return e;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes so the data
 * that follows is aligned (as the reference writer does). */
static char *build_header(const StTensor *tensors, size_t n, const StMeta *extra,
                          size_t n_extra, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "producer", "nnc " NNC_VERSION);
    for (size_t i = 0; i < n_extra; i++)
        cJSON_AddStringToObject(meta, extra[i].key, extra[i].value);
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToObject(root, tensors[i].name, header_entry(&tensors[i], offset));
        offset += tensors[i].count * 4;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        return NULL;
    size_t raw = strlen(json), padded = (raw + 7) / 8 * 8;
    char *out = malloc(padded + 1);
    if (out) {
        memcpy(out, json, raw);
        memset(out + raw, ' ', padded - raw);
        out[padded] = '\0';
        *len = padded;
    }
    cJSON_free(json);
    return out;
}

bool st_write_stream(FILE *f, const StTensor *tensors, size_t n, const StMeta *meta,
                     size_t n_meta)
{
    size_t header_len;
    char *header = build_header(tensors, n, meta, n_meta, &header_len);
    if (!header)
        return false;
    unsigned char size_bytes[8], word[4];
    write_le64(size_bytes, header_len);
    fwrite(size_bytes, 1, 8, f);
    fwrite(header, 1, header_len, f);
    free(header);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < tensors[i].count; k++) {
            write_le_float(word, tensors[i].data[k]);
            fwrite(word, 1, 4, f);
        }
    }
    return !ferror(f);
}

bool st_write(Diag *d, const char *path, const StTensor *tensors, size_t n)
{
    return st_write_meta(d, path, tensors, n, NULL, 0);
}

bool st_write_meta(Diag *d, const char *path, const StTensor *tensors, size_t n,
                   const StMeta *meta, size_t n_meta)
{
    AtomicFile af;
    if (!atomic_open(d, path, &af))
        return false;
    if (!st_write_stream(af.f, tensors, n, meta, n_meta)) {
        atomic_abort(&af);
        diag_error(d, loc_none(), "cannot write '%s' (out of memory or disk full)", path);
        return false;
    }
    return atomic_commit(d, &af);
}
