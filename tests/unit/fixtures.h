/* Hand-built IrPrograms for runtime tests, standing in for the front end:
 * what `nnc run` would get from small .nn files. */
#ifndef NNC_TEST_FIXTURES_H
#define NNC_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/ir.h"
#include "nnc/runtime.h"

/* Storage for one program with up to a few models, trains and evals. */
typedef struct Fixture {
    IrProgram prog;
    IrDataset datasets[2];
    IrModel models[2];
    IrNode nodes[2][8];
    IrTrain trains[2];
    IrEval evals[2];
    IrStep steps[4];
} Fixture;

/* dataset xor { x = [[0,0],[0,1],[1,0],[1,1]]  y = [0,1,1,0] } */
IrDataset fixture_xor_data(void);

/* model XORNet { input 2  layer1: dense 4, relu  layer2: dense 1, sigmoid }
 * trained with bce, adam(lr = 0.1), 1000 epochs, full batch, seed 0,
 * log_every 200, then evaluated on xor. */
void fixture_xornet(Fixture *f);

/* model logreg { input 2  out: dense 1, sigmoid } on xor, same training. */
void fixture_logreg(Fixture *f);

/* tests/torch/xor_fixed.nn by hand: two XORNets from the same fixed weights
 * (adam_net, sgd_net), each trained full batch for 100 epochs with
 * log_every 1 (adam(lr=0.1), sgd(lr=0.1, momentum=0.9)), then evaluated. */
void fixture_xor_fixed(Fixture *f);

/* Fills in what the lowering derives from the nodes' ops and widths (the
 * chain's inputs, shapes, dense units): call again after changing widths. */
void fixture_link(IrNode *nodes, size_t n_nodes);

/* Runs the program; returns the report (malloc'd) and sets *ok. */
char *fixture_run(const IrProgram *p, const RtOptions *opt, bool *ok);

#endif
