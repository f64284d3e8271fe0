/* libFuzzer harness for what runs after the front end: every program that
 * compiles is trained (each train block cut to 1 epoch) and evaluated by the
 * runtime (with --quantize int8 when every evaluated model can be
 * quantized), then each model is written by the C and ONNX emitters and,
 * quantized, by the int8 C emitter, all to /dev/null. The memory limit is lowered to 64 MB so that a program asking
 * for huge layers or batches takes the "does not fit" path instead of the
 * fuzzer's RSS limit. Inputs and files as fuzz_nn.h says. */
#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/emit.h"
#include "nnc/front.h"
#include "nnc/ir.h"
#include "nnc/runtime.h"
#include "fuzz_nn.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char dir[] = "/tmp/nnc-fuzz-run-XXXXXX";
    fuzz_nn_init(dir);
    if (setenv("NNC_MEMORY_LIMIT", "67108864", 1) != 0)
        exit(1);
    return 0;
}

/* Writing a number costs about a microsecond (shortest round trip), many
 * more under ASan: models beyond this many parameters would only slow the
 * fuzzer down to timeouts without reaching new code. */
enum { FUZZ_EMIT_MAX_PARAMS = 1 << 16 };

/* The int8 emitter on model m, when the quantizer takes it. */
static void emit_int8(Arena *a, const IrProgram *p, RtSession *s, size_t m, const EmitOptions *o,
                      Diag *d)
{
    QModel q;
    if (rt_quant_check(p, m, NULL, d) && rt_quantize(s, m, NULL, a, &q, d)) {
        emit_c_int8(sink, &q, o);
        emit_c_int8_header(sink, &q, o);
        if (!emit_onnx_int8_refusal(p->models + m))
            emit_onnx_int8(sink, &q, o);
    }
}

/* Both emitters on every small model, with the session's (trained) weights. */
static void emit_models(Arena *a, const IrProgram *p, RtSession *s, Diag *d)
{
    for (size_t m = 0; m < p->n_models; m++) {
        const IrModel *im = &p->models[m];
        if (im->n_params > FUZZ_EMIT_MAX_PARAMS)
            continue;
        const float **params = arena_array(a, im->n_nodes, sizeof *params);
        if (!params)
            return;
        for (size_t i = 0; i < im->n_nodes; i++)
            params[i] = rt_node_params(s, m, i);
        EmitWeights ew = {params};
        EmitOptions o = {.prefix = emit_default_prefix(a, im), .source_name = nn_path,
                         .weights_origin = "fuzz", .with_main = true};
        const char *bad;
        if (!o.prefix || !emit_weights_finite(im, &ew, &bad))
            continue;
        emit_c(sink, im, &ew, &o);
        emit_c_header(sink, im, &o);
        emit_onnx(sink, im, &ew, &o);
        emit_int8(a, p, s, m, &o, d);
    }
}

/* Multiply-adds a run of the program costs, roughly (forward, backward and
 * update per row and parameter; every epoch of every run). Programs
 * above the budget are skipped: under ASan they end in timeouts, which say
 * nothing about correctness. */
enum { FUZZ_WORK_BUDGET = 20000000 };

static double program_work(const IrProgram *p)
{
    double work = 0;
    for (size_t i = 0; i < p->n_trains; i++) {
        const IrTrain *t = &p->trains[i];
        double epochs = t->n_sweep ? (double)t->n_sweep : 1.0; /* 1 epoch per run */
        if (t->n_sweep && t->sweep == HP_EPOCHS) { /* its values win over the 1-epoch cut */
            epochs = 0;
            for (size_t k = 0; k < t->n_sweep; k++)
                epochs += t->sweep_values[k];
        }
        work += 3.0 * epochs * (double)p->models[t->model].n_params *
                (double)p->datasets[t->dataset].rows;
    }
    for (size_t i = 0; i < p->n_evals; i++)
        work += (double)p->models[p->evals[i].model].n_params *
                (double)p->datasets[p->evals[i].dataset].rows;
    return work;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Source src;
    char *text = fuzz_nn_source(data, size, &src);
    if (!text)
        return -1; /* keep out of the corpus: it could name a real file */
    Diag d;
    diag_init(&d, sink);
    Arena a;
    arena_init(&a);
    IrProgram *p = front_compile(&a, &d, &src);
    RtOptions opt = {.out = sink, .epochs = 1, .file = nn_path};
    bool affordable = p && program_work(p) <= FUZZ_WORK_BUDGET;
    opt.quantize_int8 = affordable;
    for (size_t i = 0; affordable && i < p->n_evals; i++)
        opt.quantize_int8 &= rt_quant_check(p, p->evals[i].model, NULL, &d);
    RtSession *s = affordable ? rt_session_new(p, &opt, &d) : NULL;
    if (s) {
        rt_session_run(s, &d);
        emit_models(&a, p, s, &d);
        rt_session_free(s);
    }
    arena_free(&a);
    free(text);
    return 0;
}
