/* `nnc run --quantize int8`: after an evaluate step, the model quantized
 * with its current weights (quant.c) runs the same rows through the
 * integer kernels (quant_kernels.c), and the report puts float and int8
 * scores side by side with the sizes of both sets of constants. */
#include <stdlib.h>
#include <string.h>

#include "nnc/quant.h"
#include "report.h"
#include "session.h"

enum { EVAL_CHUNK_ROWS = 256 };

/* Bytes of constants the int8 C file holds (emit_c_int8.c writes these
 * arrays): int8 weights, int32 biases and multipliers, int8 shifts, the
 * activation tables. */
static size_t int8_constant_bytes(const QModel *q)
{
    size_t bytes = 0;
    for (size_t i = 0; i < q->ir->n_nodes; i++) {
        const QNode *n = &q->nodes[i];
        if (n->kind == Q_DENSE || n->kind == Q_CONV)
            bytes += n->dense.units * (n->dense.in + 4 + 4 + 1);
        else if (n->kind == Q_LUT)
            bytes += 256;
        else if (n->kind == Q_SOFTMAX)
            bytes += 256 * 4;
    }
    return bytes;
}

/* Runs ds through the int8 network: int8 outputs [rows][out] and their
 * dequantized values for scoring. work holds one row's layers, or with
 * --trace-int8 every row's ([rows][q8_work_size]). */
static void int8_outputs(const QModel *q, const IrDataset *ds, int8_t *qy, float *y, int8_t *work,
                         bool trace, int8_t *qx)
{
    const QParams in = q->nodes[0].out, out = q8_output(q)->out;
    size_t n_in = q->ir->in_units, n_out = q->ir->out_units;
    for (size_t r = 0; r < ds->rows; r++) {
        for (size_t j = 0; j < n_in; j++)
            qx[j] = q8_quantize(ds->x[r * n_in + j], in.scale, in.zero);
        q8_forward(q, qx, qy + r * n_out, trace ? work + r * q8_work_size(q) : work);
        for (size_t j = 0; j < n_out; j++)
            y[r * n_out + j] = q8_dequantize(qy[r * n_out + j], out.scale, out.zero);
    }
}

static void print_score(FILE *out, const char *what, const RtScore *sc)
{
    if (sc->kind == RT_EVAL_REGRESSION)
        fprintf(out, "%s mse %.6g", what, sc->mse);
    else
        fprintf(out, "%s %.2f%% (%zu/%zu)", what, 100.0 * (double)sc->correct / (double)sc->rows,
                sc->correct, sc->rows);
}

static void print_report(RtSession *s, const IrEval *ev, const QModel *q, const RtScore *fs,
                         const RtScore *qs)
{
    FILE *out = s->opt.out;
    const IrModel *m = q->ir;
    fprintf(out, "int8 %s on %s (ranges calibrated on %s, %zu rows)\n", m->name,
            s->prog->datasets[ev->dataset].name, q->calibration, q->calib_rows);
    for (size_t i = 0; i < m->n_nodes; i++)
        if (q->nodes[i].degenerate)
            fprintf(out, "  note: %s is 0 on every calibration row: its int8 range is [0, 1]\n",
                    m->nodes[i].name);
    if (fs->kind == RT_EVAL_OUTPUTS) {
        fprintf(out, "  no targets to score: float and int8 outputs only\n");
    } else {
        fprintf(out, "  %s: ", fs->kind == RT_EVAL_REGRESSION ? "error" : "accuracy");
        print_score(out, "float", fs);
        print_score(out, ", int8", qs);
        if (fs->kind != RT_EVAL_REGRESSION)
            fprintf(out, ", %+.2f points", 100.0 * ((double)qs->correct - (double)fs->correct) /
                                               (double)fs->rows);
        fputc('\n', out);
    }
    size_t qb = int8_constant_bytes(q), fb = m->n_params * sizeof(float);
    fprintf(out, "  constants: %zu bytes int8 (weights, int32 biases and multipliers, tables) vs "
            "%zu bytes float32 (%.1f%%)\n\n", qb, fb, fb ? 100.0 * (double)qb / (double)fb : 0.0);
}

static void json_score(cJSON *j, const char *key, const RtScore *sc)
{
    cJSON *o = cJSON_AddObjectToObject(j, key);
    if (!o)
        return;
    cJSON_AddNumberToObject(o, "rows", (double)sc->rows);
    if (sc->kind == RT_EVAL_REGRESSION)
        cJSON_AddNumberToObject(o, "mse", sc->mse);
    else if (sc->kind != RT_EVAL_OUTPUTS)
        cJSON_AddNumberToObject(o, "correct", (double)sc->correct);
}

static void json_layers(cJSON *j, const QModel *q)
{
    cJSON *layers = cJSON_AddArrayToObject(j, "values");
    for (size_t i = 0; layers && i < q->ir->n_nodes; i++) {
        const QNode *n = &q->nodes[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(layers, o)) {
            cJSON_Delete(o);
            return;
        }
        cJSON_AddStringToObject(o, "node", q->ir->nodes[i].name);
        cJSON_AddNumberToObject(o, "scale", (double)n->out.scale);
        cJSON_AddNumberToObject(o, "zero_point", n->out.zero);
        cJSON_AddBoolToObject(o, "degenerate", n->degenerate);
    }
}

static cJSON *int8_array(const int8_t *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; a && k < n; k++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[k]));
    return a;
}

/* --trace-int8: row r's value of every node, in "values"' order. */
static void json_trace(cJSON *row, const QModel *q, const int8_t *work)
{
    cJSON *layers = cJSON_AddArrayToObject(row, "layers");
    for (size_t i = 0; layers && i < q->ir->n_nodes; i++)
        cJSON_AddItemToArray(layers, int8_array(q8_node_value(q, work, i), q->ir->nodes[i].units));
}

static void json_rows(cJSON *j, const IrDataset *ds, const QModel *q, const int8_t *qy,
                      const int8_t *trace)
{
    const IrModel *m = q->ir;
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    for (size_t r = 0; rows && r < ds->rows; r++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(rows, o)) {
            cJSON_Delete(o);
            return;
        }
        cJSON_AddItemToObject(o, "inputs", rt_json_float_array(ds->x + r * ds->x_cols, ds->x_cols));
        cJSON_AddItemToObject(o, "int8", int8_array(qy + r * m->out_units, m->out_units));
        if (trace)
            json_trace(o, q, trace + r * q8_work_size(q));
    }
}

static void json_report(RtSession *s, const IrEval *ev, const QModel *q, const RtScore *fs,
                        const RtScore *qs, const int8_t *qy, const int8_t *trace)
{
    cJSON *j = rt_json_step(s, "quantize");
    if (!j)
        return;
    const IrDataset *ds = &s->prog->datasets[ev->dataset];
    cJSON_AddStringToObject(j, "model", q->ir->name);
    cJSON_AddStringToObject(j, "dataset", ds->name);
    cJSON_AddStringToObject(j, "calibration", q->calibration);
    cJSON_AddNumberToObject(j, "calibration_rows", (double)q->calib_rows);
    json_score(j, "float", fs);
    json_score(j, "int8", qs);
    cJSON_AddNumberToObject(j, "int8_bytes", (double)int8_constant_bytes(q));
    cJSON_AddNumberToObject(j, "float_bytes", (double)(q->ir->n_params * sizeof(float)));
    json_layers(j, q);
    json_rows(j, ds, q, qy, trace);
}

static bool float_score(RtModel *rm, const IrEval *ev, const IrDataset *ds, RtScore *fs, Diag *d)
{
    RtPlan pl;
    size_t chunk = ds->rows < EVAL_CHUNK_ROWS ? ds->rows : EVAL_CHUNK_ROWS;
    if (!rt_plan_fits(rm, chunk, NULL, NULL, -1, ev->loc, d) ||
        !rt_plan_init(&pl, rm, chunk, NULL, NULL, -1, d))
        return false;
    rt_eval_score(&pl, ds, fs);
    rt_plan_free(&pl);
    return true;
}

bool rt_quant_eval_run(RtSession *s, const IrEval *ev, Diag *d)
{
    const IrDataset *ds = &s->prog->datasets[ev->dataset];
    RtModel *rm = &s->models[ev->model];
    Arena a;
    arena_init(&a);
    QModel q;
    RtScore fs, qs;
    bool ok = rt_quantize(s, ev->model, s->opt.calibrate, &a, &q, d) &&
              float_score(rm, ev, ds, &fs, d);
    size_t n_out = rm->ir->out_units;
    bool trace = s->opt.trace_int8;
    size_t work_rows = trace ? ds->rows : 1;
    int8_t *qy = ok ? arena_array(&a, ds->rows * n_out + work_rows * q8_work_size(&q) +
                                  rm->ir->in_units, 1)
                    : NULL;
    float *y = ok ? arena_array(&a, ds->rows * n_out, sizeof *y) : NULL;
    if (ok && (!qy || !y)) {
        diag_error(d, ev->loc, "out of memory");
        ok = false;
    }
    if (ok) {
        int8_t *work = qy + ds->rows * n_out;
        int8_outputs(&q, ds, qy, y, work, trace, work + work_rows * q8_work_size(&q));
        rt_eval_score_outputs(ds, rm->ir, y, &qs);
        print_report(s, ev, &q, &fs, &qs);
        json_report(s, ev, &q, &fs, &qs, qy, trace ? work : NULL);
    }
    arena_free(&a);
    return ok;
}
