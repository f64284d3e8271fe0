/* --target pytorch: writes a small Python package (model.py, data.py,
 * train.py, safetensors_io.py, README.md, __init__.py) into a folder. This
 * file chooses what goes in, checks that the .nn names can be Python names,
 * spells numbers, and writes the files all or nothing: every text is built
 * in memory first, then each file goes to a temporary name and all are
 * renamed into place only when all were written. */
/* realpath() is X/Open, beyond the Makefile's _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc/arena.h"
#include "nnc/fileio.h"
#include "nnc/safetensors.h"
#include "pytorch.h"

/* ---- numbers and literals ----------------------------------------------- */

void py_put_float32(FILE *f, float v)
{
    char buf[40];
    /* Python reads a literal as a double, then torch rounds it to float32:
     * the digits must survive both roundings, which %.17g always does. */
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if ((float)strtod(buf, NULL) == v)
            break;
    }
    fputs(strcmp(buf, "-0") == 0 ? "-0.0" : buf, f);
}

void py_put_double(FILE *f, double v)
{
    char buf[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fprintf(f, "%s%s", buf, strpbrk(buf, ".en") ? "" : ".0");
}

static void put_row(FILE *f, const float *v, size_t cols)
{
    for (size_t c = 0; c < cols; c++) {
        if (c)
            fputs(", ", f);
        py_put_float32(f, v[c]);
    }
}

void py_put_matrix(FILE *f, const float *v, size_t rows, size_t cols, bool flat,
                   const char *indent)
{
    /* Short lists stay on one line, as a person would type them. */
    bool wrap = rows * cols > 16;
    fputc('[', f);
    if (flat) {
        put_row(f, v, rows * cols);
        fputc(']', f);
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        if (r)
            fputs(wrap ? ",\n" : ", ", f);
        if (r && wrap)
            fprintf(f, "%s ", indent);
        fputc('[', f);
        put_row(f, v + r * cols, cols);
        fputc(']', f);
    }
    fputc(']', f);
}

void py_put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ---- names -------------------------------------------------------------- */

static bool in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return true;
    return false;
}

static const char *const py_keywords[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", NULL};

/* What nn.Module itself defines (torch 1.13 and later): an attribute of that
 * name would hide a method the training loop calls, or be refused. */
static const char *const module_attributes[] = {
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad", NULL};

/* The names model.py and train.py use at the top level (modules, classes,
 * builtins the code calls): a model class of that name would shadow them. */
static const char *const package_globals[] = {
    "DistributedDataParallel", "DataLoader", "DistributedSampler", "StepFunction",
    "TensorDataset", "argparse", "copy", "data", "dist", "dict", "float", "int", "len",
    "list", "main", "math", "max", "min", "model", "nn", "os", "print", "range", "round",
    "sorted", "str", "sum", "time", "torch", "zip", NULL};

const char *emit_pytorch_name_clash(const char *name, bool attribute)
{
    if (in_list(name, py_keywords))
        return "is a Python keyword";
    if (attribute && (strncmp(name, "_", 1) == 0 || in_list(name, module_attributes)))
        return strncmp(name, "_", 1) == 0 ? "starts with '_', which nn.Module keeps for its "
                                            "internals"
                                          : "is already an attribute of nn.Module";
    if (!attribute && in_list(name, package_globals))
        return "is a name the generated Python code already uses";
    return NULL;
}

/* Every layer that becomes an attribute (py_op_is_module) and the class name
 * must be usable in Python; the state_dict keys must stay the .nn names. */
static bool check_names(const IrModel *m, Diag *d)
{
    bool ok = true;
    const char *why = emit_pytorch_name_clash(m->name, false);
    if (why) {
        diag_error(d, m->loc, "model '%s' cannot be a Python class: the name %s; rename the "
                   "model for --target pytorch", m->name, why);
        ok = false;
    }
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        if (!py_op_is_module(n->op))
            continue;
        why = emit_pytorch_name_clash(n->name, true);
        if (!why)
            continue;
        diag_error(d, n->loc, "layer '%s' cannot be an attribute of a PyTorch module: the "
                   "name %s; rename the layer for --target pytorch (its weights keep the "
                   "layer's name)", n->name, why);
        ok = false;
    }
    return ok;
}

/* ---- what goes into the package ----------------------------------------- */

static bool has_source(const PyPackage *k, const IrDataSource *s)
{
    for (size_t i = 0; i < k->n_sources; i++)
        if (k->sources[i] == s)
            return true;
    return false;
}

static void add_source(PyPackage *k, const IrDataset *ds)
{
    if (ds->source && !has_source(k, ds->source))
        k->sources[k->n_sources++] = ds->source;
}

/* The last train block of the model (as `nnc emit` and weights_origin),
 * its evaluate steps, and the datasets both read. */
static bool collect_steps(Arena *a, PyPackage *k)
{
    const IrProgram *p = k->prog;
    k->evals = arena_array(a, p->n_evals + 1, sizeof *k->evals);
    k->sources = arena_array(a, p->n_evals + 2, sizeof *k->sources);
    if (!k->evals || !k->sources)
        return false;
    for (size_t i = 0; i < p->n_trains; i++)
        if (p->trains[i].model == k->model)
            k->train = &p->trains[i];
    if (k->train)
        add_source(k, &p->datasets[k->train->dataset]);
    for (size_t i = 0; i < p->n_evals; i++) {
        if (p->evals[i].model != k->model)
            continue;
        k->evals[k->n_evals++] = &p->evals[i];
        add_source(k, &p->datasets[p->evals[i].dataset]);
    }
    return true;
}

/* The absolute folder of the .nn file: data.py's default DATA_ROOT. */
static const char *source_folder(Arena *a, const char *source)
{
    const char *slash = strrchr(source, '/');
    const char *dir = slash ? arena_strndup(a, source, (size_t)(slash - source + 1)) : ".";
    char *abs = dir ? realpath(dir, NULL) : NULL;
    if (!abs)
        return dir;
    const char *kept = arena_strdup(a, abs);
    free(abs);
    return kept;
}

static bool package_init(Arena *a, const IrProgram *p, size_t model,
                         const EmitPytorchOptions *o, PyPackage *k)
{
    memset(k, 0, sizeof *k);
    k->arena = a;
    k->prog = p;
    k->model = model;
    k->m = &p->models[model];
    k->o = o;
    k->class_name = k->m->name;
    const char *slash = strrchr(o->source_name, '/');
    k->source_base = slash ? slash + 1 : o->source_name;
    k->data_root = source_folder(a, o->source_name);
    return k->data_root && collect_steps(a, k);
}

/* ---- writing ------------------------------------------------------------ */

typedef void (*PyWriter)(FILE *f, const PyPackage *k);
/* Binary files: false when out of memory. */
typedef bool (*PyBinWriter)(FILE *f, const PyPackage *k);

static void write_safetensors_io(FILE *f, const PyPackage *k)
{
    (void)k;
    py_write_safetensors_io(f);
}

/* init.safetensors: every node's starting parameter tensors, under the
 * keys of the module's state_dict (NODE.suffix, as nnc's weights files). */
static bool write_init_weights(FILE *f, const PyPackage *k)
{
    const IrModel *m = k->m;
    StTensor *t = arena_array(k->arena, IR_MAX_PARAMS * m->n_nodes + 1, sizeof *t);
    size_t n = 0;
    if (!t)
        return false;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const IrNode *nd = &m->nodes[i];
        IrParam ps[IR_MAX_PARAMS];
        size_t np = ir_node_params(nd, ps);
        for (size_t p = 0; p < np; p++, n++) {
            t[n] = (StTensor){arena_printf(k->arena, "%s.%s", nd->name, ps[p].suffix),
                              ps[p].shape.rank, {0}, ir_shape_size(&ps[p].shape),
                              (float *)emit_param(k->o->init, m, i, p)};
            if (!t[n].name)
                return false;
            for (size_t d = 0; d < ps[p].shape.rank; d++)
                t[n].shape[d] = ps[p].shape.dim[d];
        }
    }
    return st_write_stream(f, t, n, NULL, 0);
}

static const struct {
    const char *name;
    PyWriter write;
    PyBinWriter write_binary; /* only when the options carry initial weights */
} py_files[] = {
    {"__init__.py", py_write_init, NULL},
    {"model.py", py_write_model, NULL},
    {"data.py", py_write_data, NULL},
    {"train.py", py_write_train, NULL},
    {"safetensors_io.py", write_safetensors_io, NULL},
    {"README.md", py_write_readme, NULL},
    {"init.safetensors", NULL, write_init_weights},
};
enum { PY_N_FILES = sizeof py_files / sizeof py_files[0] };

typedef struct PyText {
    char *buf;
    size_t len;
} PyText;

static bool render_all(const PyPackage *k, PyText *texts, Diag *d)
{
    for (size_t i = 0; i < PY_N_FILES; i++) {
        if (py_files[i].write_binary && !k->o->init)
            continue;
        FILE *f = open_memstream(&texts[i].buf, &texts[i].len);
        if (!f) {
            diag_error(d, loc_none(), "out of memory writing %s", py_files[i].name);
            return false;
        }
        bool ok = true;
        if (py_files[i].write_binary)
            ok = py_files[i].write_binary(f, k);
        else
            py_files[i].write(f, k);
        ok = ok && !ferror(f);
        if (fclose(f) != 0 || !ok) {
            diag_error(d, loc_none(), "out of memory writing %s", py_files[i].name);
            return false;
        }
    }
    return true;
}

/* Opens every file under a temporary name and writes it; only when all
 * are written are they renamed into place. A folder in the way of a file
 * would fail its rename after others succeeded: it is refused first. */
static bool write_all(Arena *a, const char *dir, const PyText *texts, Diag *d)
{
    AtomicFile af[PY_N_FILES];
    size_t opened = 0;
    bool ok = true;
    for (size_t i = 0; i < PY_N_FILES; i++) {
        const char *path = arena_printf(a, "%s/%s", dir, py_files[i].name);
        if (!path || !atomic_probe(d, path))
            return false;
    }
    for (; ok && opened < PY_N_FILES; opened++) {
        if (!texts[opened].buf) { /* a file this package leaves out */
            af[opened] = (AtomicFile){0};
            continue;
        }
        const char *path = arena_printf(a, "%s/%s", dir, py_files[opened].name);
        if (!path || !atomic_open(d, path, &af[opened]))
            break;
        ok = fwrite(texts[opened].buf, 1, texts[opened].len, af[opened].f) == texts[opened].len;
    }
    if (!ok || opened < PY_N_FILES) {
        for (size_t i = 0; i < opened; i++)
            if (af[i].f)
                atomic_abort(&af[i]);
        if (!ok)
            diag_error(d, loc_none(), "cannot write the package in '%s'", dir);
        return false;
    }
    for (size_t i = 0; i < PY_N_FILES; i++)
        if (af[i].f)
            ok &= atomic_commit(d, &af[i]);
    return ok;
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool emit_pytorch(const IrProgram *p, size_t model, const EmitPytorchOptions *o, Diag *d)
{
    if (!check_names(&p->models[model], d))
        return false;
    Arena a;
    arena_init(&a);
    PyPackage k;
    PyText texts[PY_N_FILES];
    memset(texts, 0, sizeof texts);
    bool ok = package_init(&a, p, model, o, &k);
    if (!ok)
        diag_error(d, loc_none(), "out of memory");
    ok = ok && render_all(&k, texts, d);
    bool existed = dir_exists(o->dir);
    ok = ok && dir_prepare(d, o->dir) && write_all(&a, o->dir, texts, d);
    if (!ok && !existed)
        rmdir(o->dir); /* only succeeds when we created it and it stayed empty */
    for (size_t i = 0; i < PY_N_FILES; i++)
        free(texts[i].buf);
    arena_free(&a);
    return ok;
}
