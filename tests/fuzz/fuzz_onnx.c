/* libFuzzer harness for the ONNX reader: any bytes, read as a ModelProto and
 * as a TensorProto, must give a result or a reason, never a crash, a leak or
 * undefined behaviour. The arena frees everything each run. */
#include <stddef.h>
#include <stdint.h>

#include "nnc/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Arena a;
    char err[256];
    arena_init(&a);
    OnnxModel m;
    if (onnx_read_model(&a, data, size, &m, err, sizeof err)) {
        /* Touch what a consumer would: every node's attributes and names. */
        for (size_t i = 0; i < m.n_nodes; i++)
            (void)onnx_attr(&m.nodes[i], "axis");
        for (size_t i = 0; i < m.n_inputs; i++)
            (void)onnx_initializer(&m, m.inputs[i]);
    }
    OnnxTensor t;
    if (onnx_read_tensor(&a, data, size, &t, err, sizeof err) && t.f && t.count)
        (void)t.f[t.count - 1];
    arena_free(&a);
    return 0;
}
