/* Builders for the fixture programs declared in fixtures.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

static const float xor_x[] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float xor_y[] = {0, 1, 1, 0};

IrDataset fixture_xor_data(void)
{
    IrDataset d = {0};
    d.name = "xor";
    d.rows = 4;
    d.x_cols = 2;
    d.y_cols = 1;
    d.x = xor_x;
    d.y = xor_y;
    return d;
}

static IrNode node(OpKind op, const char *name, const char *layer, size_t in, size_t units)
{
    IrNode n = {0};
    n.op = op;
    n.name = name;
    n.layer = layer;
    n.in_units = in;
    n.units = units;
    return n;
}

/* Node i reads node i - 1: inputs point into this. */
static const size_t chain[] = {0, 1, 2, 3, 4, 5, 6, 7};

/* What the lowering fills in besides the widths: the chain's inputs, the
 * shapes, dense's units. */
void fixture_link(IrNode *nodes, size_t n_nodes)
{
    for (size_t i = 0; i < n_nodes; i++) {
        IrNode *n = &nodes[i];
        n->shape = ir_shape_1d(n->units);
        if (i > 0) {
            n->inputs = &chain[i - 1];
            n->n_inputs = 1;
        }
        if (n->op == OP_DENSE)
            n->cfg.dense.units = n->units;
    }
}

static void fixture_program(Fixture *f, size_t n_nodes, size_t n_params, const char *name)
{
    fixture_link(f->nodes[0], n_nodes);
    f->datasets[0] = fixture_xor_data();
    IrModel *m = &f->models[0];
    m->name = name;
    m->nodes = f->nodes[0];
    m->n_nodes = n_nodes;
    m->in_units = 2;
    m->out_units = 1;
    m->n_params = n_params;
    IrTrain *t = &f->trains[0];
    t->loss = LOSS_BCE;
    t->optimizer = (IrOptimizer){OPTIM_ADAM, {[HP_LR] = 0.1, [HP_BETA1] = 0.9, [HP_BETA2] = 0.999, [HP_EPS] = 1e-8}};
    t->epochs = 1000;
    t->batch = 4;
    t->log_every = 200;
    f->evals[0].show_node = -1;
    f->steps[0] = (IrStep){STEP_TRAIN, 0};
    f->steps[1] = (IrStep){STEP_EVAL, 0};
    IrProgram *p = &f->prog;
    p->datasets = f->datasets;
    p->n_datasets = 1;
    p->models = f->models;
    p->n_models = 1;
    p->trains = f->trains;
    p->n_trains = 1;
    p->evals = f->evals;
    p->n_evals = 1;
    p->steps = f->steps;
    p->n_steps = 2;
}

void fixture_xornet(Fixture *f)
{
    memset(f, 0, sizeof *f);
    f->nodes[0][0] = node(OP_INPUT, "input", "input", 2, 2);
    f->nodes[0][1] = node(OP_DENSE, "layer1", "layer1", 2, 4);
    f->nodes[0][2] = node(OP_RELU, "layer1.relu", "layer1", 4, 4);
    f->nodes[0][3] = node(OP_DENSE, "layer2", "layer2", 4, 1);
    f->nodes[0][4] = node(OP_SIGMOID, "layer2.sigmoid", "layer2", 1, 1);
    fixture_program(f, 5, 17, "XORNet");
}

void fixture_logreg(Fixture *f)
{
    memset(f, 0, sizeof *f);
    f->nodes[0][0] = node(OP_INPUT, "input", "input", 2, 2);
    f->nodes[0][1] = node(OP_DENSE, "out", "out", 2, 1);
    f->nodes[0][2] = node(OP_SIGMOID, "out.sigmoid", "out", 1, 1);
    fixture_program(f, 3, 3, "logreg");
}

static const float fixed_w1[8] = {0.5f, -0.4f, -0.3f, 0.6f, 0.7f, 0.2f, -0.6f, -0.5f};
static const float fixed_b1[4] = {0.1f, -0.1f, 0.05f, 0.2f};
static const float fixed_w2[4] = {0.4f, -0.3f, 0.6f, -0.2f};
static const float fixed_b2[1] = {0.05f};

void fixture_xor_fixed(Fixture *f)
{
    fixture_xornet(f);
    f->models[1] = f->models[0];
    f->models[0].name = "adam_net";
    f->models[1].name = "sgd_net";
    for (int m = 0; m < 2; m++) {
        memcpy(f->nodes[m], f->nodes[0], sizeof f->nodes[0]);
        f->models[m].nodes = f->nodes[m];
        f->nodes[m][1].param_init[0] = fixed_w1;
        f->nodes[m][1].param_init[1] = fixed_b1;
        f->nodes[m][3].param_init[0] = fixed_w2;
        f->nodes[m][3].param_init[1] = fixed_b2;
        f->trains[m] = f->trains[0];
        f->trains[m].model = (size_t)m;
        f->trains[m].epochs = 100;
        f->trains[m].log_every = 1;
        f->evals[m] = (IrEval){(size_t)m, 0, -1, true, {0}};
        f->steps[m] = (IrStep){STEP_TRAIN, (size_t)m};
        f->steps[2 + m] = (IrStep){STEP_EVAL, (size_t)m};
    }
    f->trains[1].optimizer = (IrOptimizer){OPTIM_SGD, {[HP_LR] = 0.1, [HP_MOMENTUM] = 0.9}};
    f->prog.n_models = 2;
    f->prog.n_trains = 2;
    f->prog.n_evals = 2;
    f->prog.n_steps = 4;
}

char *fixture_run(const IrProgram *p, const RtOptions *opt, bool *ok)
{
    char *text = NULL, *diag_text = NULL;
    size_t len = 0, diag_len = 0;
    FILE *out = open_memstream(&text, &len);
    FILE *dout = open_memstream(&diag_text, &diag_len);
    Diag d;
    diag_init(&d, dout);
    RtOptions o = *opt;
    o.out = out;
    RtSession *s = rt_session_new(p, &o, &d);
    *ok = s && rt_session_run(s, &d);
    rt_session_free(s);
    fclose(out);
    fclose(dout);
    if (diag_len) {
        /* Diagnostics matter to tests too: append them to the report. */
        char *both = malloc(len + diag_len + 1);
        memcpy(both, text, len);
        memcpy(both + len, diag_text, diag_len + 1);
        free(text);
        text = both;
    }
    free(diag_text);
    return text;
}
