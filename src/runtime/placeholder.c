/* PLACEHOLDER until the runtime lands. Delete this file when src/runtime/ is
 * real. */
#include "nnc/runtime.h"

RtSession *rt_session_new(const IrProgram *p, const RtOptions *opt, Diag *d)
{
    (void)p, (void)opt;
    diag_error(d, loc_none(), "runtime not built yet");
    return NULL;
}
void rt_session_free(RtSession *s) { (void)s; }
bool rt_session_run(RtSession *s, Diag *d) { (void)s, (void)d; return false; }
const float *rt_node_weight(const RtSession *s, size_t m, size_t n) { (void)s, (void)m, (void)n; return NULL; }
const float *rt_node_bias(const RtSession *s, size_t m, size_t n) { (void)s, (void)m, (void)n; return NULL; }
