/* Predictors: the evaluation forward pass (dropout off) behind a small
 * public API, for benchmarks and programs that embed the runtime. */
#include <stdlib.h>

#include "session.h"

struct RtPredictor {
    RtPlan plan;
};

RtPredictor *rt_predictor_new(RtSession *s, size_t model, size_t max_rows, Diag *d)
{
    RtPredictor *p = calloc(1, sizeof *p);
    if (!p) {
        diag_error(d, loc_none(), "out of memory");
        return NULL;
    }
    if (!rt_plan_init(&p->plan, &s->models[model], max_rows, NULL, NULL, -1, d)) {
        free(p);
        return NULL;
    }
    return p;
}

const float *rt_predictor_run(RtPredictor *p, const float *x, size_t rows)
{
    return rt_plan_forward(&p->plan, x, rows, false, NULL);
}

void rt_predictor_free(RtPredictor *p)
{
    if (!p)
        return;
    rt_plan_free(&p->plan);
    free(p);
}
