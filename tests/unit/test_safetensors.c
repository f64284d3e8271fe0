/* safetensors: a round trip, and every malformed file gets a clear error. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnc/safetensors.h"
#include "file_fixture.h"

static void setup(void) { file_fixture_setup("/tmp/nnc-st-XXXXXX"); }
static void teardown(void) { file_fixture_teardown(); }

TestSuite(safetensors, .init = setup, .fini = teardown);

/* Writes an 8-byte size, the header text, then data_len zero bytes. */
static void write_raw(uint64_t header_size, const char *header, size_t data_len)
{
    FILE *f = fopen(tmp_path, "wb");
    unsigned char size[8];
    for (int i = 0; i < 8; i++)
        size[i] = (unsigned char)(header_size >> (8 * i));
    fwrite(size, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++)
        fputc(0, f);
    fclose(f);
}

static void write_header(const char *header, size_t data_len)
{
    write_raw(strlen(header), header, data_len);
}

static void expect_error(const char *needle)
{
    StFile f;
    cr_assert_not(st_read(&diag, tmp_path, &f));
    fflush(diag_out);
    cr_assert_not_null(strstr(diag_text, needle), "expected '%s' in: %s", needle, diag_text);
    cr_assert_not_null(strstr(diag_text, tmp_path), "the error names the file: %s", diag_text);
    cr_assert_eq(f.n, 0);
}

Test(safetensors, round_trip_is_exact)
{
    float w[6] = {1.5f, -2.25f, 0.1f, 3e-8f, -0.0f, 1e30f};
    float b[3] = {0.5f, -0.5f, 7.0f};
    StTensor t[2] = {
        {.name = "layer1.weight", .ndim = 2, .shape = {3, 2}, .count = 6, .data = w},
        {.name = "layer1.bias", .ndim = 1, .shape = {3}, .count = 3, .data = b},
    };
    cr_assert(st_write(&diag, tmp_path, t, 2));
    StFile f;
    cr_assert(st_read(&diag, tmp_path, &f));
    cr_assert_eq(f.n, 2);
    const StTensor *rw = st_find(&f, "layer1.weight");
    cr_assert_not_null(rw);
    cr_assert_eq(rw->ndim, 2);
    cr_assert_eq(rw->shape[0], 3);
    cr_assert_eq(rw->shape[1], 2);
    cr_assert_eq(memcmp(rw->data, w, sizeof w), 0);
    const StTensor *rb = st_find(&f, "layer1.bias");
    cr_assert_eq(memcmp(rb->data, b, sizeof b), 0);
    cr_assert_null(st_find(&f, "layer2.bias"));
    st_free(&f);
}

Test(safetensors, header_is_padded_to_eight_bytes)
{
    float b[1] = {1};
    StTensor t = {.name = "b", .ndim = 1, .shape = {1}, .count = 1, .data = b};
    cr_assert(st_write(&diag, tmp_path, &t, 1));
    FILE *f = fopen(tmp_path, "rb");
    unsigned char size[8];
    cr_assert_eq(fread(size, 1, 8, f), 8);
    fclose(f);
    cr_assert_eq(size[0] % 8, 0);
}

Test(safetensors, truncated_file)
{
    FILE *f = fopen(tmp_path, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    expect_error("truncated");
}

Test(safetensors, header_size_beyond_file)
{
    write_raw(1000, "{}", 0);
    expect_error("beyond the end");
}

Test(safetensors, bad_json)
{
    write_header("{\"a\": [1, 2", 0);
    expect_error("not valid JSON");
}

Test(safetensors, header_not_object)
{
    write_header("[1, 2]", 0);
    expect_error("not a JSON object");
}

Test(safetensors, wrong_dtype)
{
    write_header("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    expect_error("dtype F16 is not supported");
}

Test(safetensors, missing_shape)
{
    write_header("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4);
    expect_error("tensor 'w': missing or malformed \"shape\"");
}

Test(safetensors, negative_shape)
{
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    expect_error("not a non-negative integer");
}

Test(safetensors, shape_does_not_match_offsets)
{
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_error("hold 8 bytes but its shape needs 12");
}

Test(safetensors, offsets_out_of_range)
{
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4);
    expect_error("outside the 4 data bytes");
}

Test(safetensors, offsets_reversed)
{
    write_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4);
    expect_error("outside");
}

Test(safetensors, overlapping_tensors)
{
    write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 12);
    expect_error("overlap");
}

Test(safetensors, duplicate_tensor)
{
    write_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 8);
    expect_error("appears twice");
}

/* The fuzzer's find: a second __metadata__ used to replace the first
 * one's list without freeing it. */
Test(safetensors, duplicate_metadata)
{
    write_header("{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\"},"
                 "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                 4);
    expect_error("__metadata__ appears twice");
}

Test(safetensors, missing_file)
{
    unlink(tmp_path);
    expect_error("cannot open");
}

Test(safetensors, unwritable_path_leaves_nothing)
{
    float b[1] = {1};
    StTensor t = {.name = "b", .ndim = 1, .shape = {1}, .count = 1, .data = b};
    cr_assert_not(st_write(&diag, "/nonexistent-dir/w.safetensors", &t, 1));
    fflush(diag_out);
    cr_assert_not_null(strstr(diag_text, "cannot write"));
    cr_assert_neq(access("/nonexistent-dir/w.safetensors", F_OK), 0);
}

/* A device is refused by name (it used to read as an empty, "truncated"
 * file), and the in-memory reader checks the same things as st_read. */
Test(safetensors, device_and_buffer)
{
    StFile f;
    cr_assert(!st_read(&diag, "/dev/zero", &f));
    fflush(diag_out);
    cr_assert(strstr(diag_text, "'/dev/zero': not a regular file"), "%s", diag_text);
    static const unsigned char empty[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    cr_assert(st_read_buffer(&diag, "mem", empty, sizeof empty, &f));
    cr_assert_eq(f.n, 0);
    st_free(&f);
    static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{'};
    cr_assert(!st_read_buffer(&diag, "mem", huge, sizeof huge, &f));
    fflush(diag_out);
    cr_assert(strstr(diag_text, "mem: header size 18446744073709551615 is beyond the end"), "%s",
              diag_text);
}
