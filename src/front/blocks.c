/* What each block accepts, for tools such as the language server's
 * completion: the checker's own property tables (lower*.c) seen from
 * outside, so a property added to a table is offered without a change
 * here. */
#include "lower.h"

_Static_assert((int)FRONT_MAX_PROPS >= (int)PROPS_MAX, "a block's table must fit in FrontProp[]");
_Static_assert((int)FRONT_MAX_PROPS >= (int)IR_MAX_PARAMS + 1, "a parameter block must fit too");

/* How the messages name each type, for a tooltip. */
static const char *prop_takes(PropType t)
{
    switch (t) {
    case PT_NUMBER: return "a number";
    case PT_INT: return "an integer";
    case PT_BOOL: return "true or false";
    case PT_STRING: return "a string";
    case PT_IDENT: return "a name";
    case PT_NAME: return "a layer name";
    case PT_LIST: return "a list";
    case PT_CALL: return "a name or a call like adam(lr = 0.01)";
    case PT_COLUMN: return "last, first or a column index";
    case PT_SPLIT: return "a fraction, or a list [train, valid, test]";
    case PT_DATASET: return "a dataset, e.g. digits.valid";
    }
    return "a value";
}

/* What the optimizer property (optimizer = adam(...)) may call: the optimizers
 * the checker knows, ir_optims' names. Filled again on each call with the
 * same values (nnc runs on one thread). */
static const char *const *callee_choices(void)
{
    static const char *names[OPTIM_COUNT + 1];
    for (int k = 0; k < OPTIM_COUNT; k++)
        names[k] = ir_optims[k].name;
    names[OPTIM_COUNT] = NULL;
    return names;
}

static size_t copy_spec(const PropSpec *spec, size_t n, FrontProp out[FRONT_MAX_PROPS])
{
    for (size_t i = 0; i < n; i++) {
        /* A call property names its callees (loss's), else it calls an
         * optimizer. */
        const char *const *choices = spec[i].choices ? spec[i].choices
                                     : spec[i].type == PT_CALL ? callee_choices() : NULL;
        out[i] = (FrontProp){spec[i].name, prop_takes(spec[i].type), choices,
                             spec[i].type == PT_BOOL};
    }
    return n;
}

size_t front_block_props(FrontBlock b, OpKind op, FrontProp out[FRONT_MAX_PROPS])
{
    size_t n = 0;
    switch (b) {
    case FRONT_DATASET: {
        const PropSpec *spec = lower_dataset_spec(&n);
        return copy_spec(spec, n, out);
    }
    case FRONT_TRAIN: {
        const PropSpec *spec = lower_train_spec(&n);
        return copy_spec(spec, n, out);
    }
    case FRONT_EVALUATE: {
        const PropSpec *spec = lower_eval_spec(&n);
        return copy_spec(spec, n, out);
    }
    case FRONT_PARAMS: break;
    }
    if (!ir_ops[op].params)
        return 0; /* the checker refuses a block on a layer without tensors */
    /* The tensors' names do not depend on the sizes: any will do. */
    IrNode node = {.op = op, .units = 1, .in_units = 1, .cfg.dense.units = 1};
    IrParam ps[IR_MAX_PARAMS];
    PropSpec spec[IR_MAX_PARAMS + 1];
    size_t np = lower_param_spec(&node, ps, spec);
    return copy_spec(spec, np + 1, out);
}
