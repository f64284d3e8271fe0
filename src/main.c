/* The nnc command line: parse flags, call the stages, map results to exit
 * codes. 0 = success, 1 = the user's input is wrong, 2 = the command line is
 * wrong, 3 = a valid program whose training diverged. Nothing below main.c
 * ever exits. */
#define _XOPEN_SOURCE 700 /* realpath: fmt -w rewrites a symbolic link's target */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/emit.h"
#include "nnc/fileio.h"
#include "nnc/fmt.h"
#include "nnc/front.h"
#include "nnc/ir.h"
#include "nnc/lsp.h"
#include "nnc/runtime.h"
#include "nnc/version.h"

enum { EXIT_OK = 0, EXIT_USER = 1, EXIT_USAGE = 2, EXIT_DIVERGED = 3 };

static const char usage_text[] =
    "usage: nnc <command> [options] FILE\n"
    "\n"
    "commands:\n"
    "  run FILE        train and evaluate as the file says\n"
    "      --seed N          override every train block's seed\n"
    "      --epochs N        override every train block's epochs (0: do not train,\n"
    "                        evaluate the weights as they are, e.g. --weights W)\n"
    "      --quiet, -q       print only the results\n"
    "      --weights W       start from the weights in W (safetensors)\n"
    "      --save W          write the trained weights to W (safetensors)\n"
    "      --model NAME      the model --weights/--save apply to (default: the\n"
    "                        last trained or evaluated model)\n"
    "      --plot DIR        write SVG plots (loss curves, decision regions)\n"
    "      --checkpoint DIR  after every epoch, write the weights and the whole\n"
    "                        training state to DIR/train-K.safetensors\n"
    "      --resume DIR      continue each training from its checkpoint in DIR\n"
    "                        as if never interrupted (and keep checkpointing)\n"
    "      --json            print one JSON document instead of the report\n"
    "      --quantize int8   after each evaluate step, evaluate the int8 network\n"
    "                        too (post-training quantization: docs/quantization.md)\n"
    "      --calibrate D     the dataset whose rows choose the int8 ranges\n"
    "                        (default: the model's training rows)\n"
    "      --trace-int8      with --quantize int8 --json: each row also carries\n"
    "                        every layer's int8 values (large)\n"
    "      --verbose         at the end, say on stderr which path the large\n"
    "                        matrix products took (OpenBLAS or portable loops)\n"
    "  check FILE      report diagnostics only; exit 0 when clean\n"
    "  emit FILE       write the model as one standalone C99 file\n"
    "      -o OUT.c          output file (default: standard output)\n"
    "      --target T        c (default); onnx: an ONNX model (-o MODEL.onnx);\n"
    "                        pytorch: a Python package to train (-o DIR)\n"
    "      --weights W       weights from W (safetensors) instead of training\n"
    "      --model NAME      which model (default as for run)\n"
    "      --prefix NAME     C identifier prefix (default: the model name)\n"
    "      --header OUT.h    also write a header with the API\n"
    "      --main            add a main() reading comma-separated rows on stdin\n"
    "      --raw-input       onnx: the graph takes raw features and starts with the\n"
    "                        dataset's scale and normalize\n"
    "      --quantize int8   int8 weights and integer arithmetic only (c; with\n"
    "                        --target onnx a QDQ model of a dense network)\n"
    "      --calibrate D     as for run\n"
    "      --keep-batchnorm  write batchnorm as its own op, not folded into the\n"
    "                        dense or conv before it (bit for bit with run)\n"
    "      --seed N, --epochs N  as for run, when emit trains first\n"
    "  plot activations  draw every activation (sigmoid, tanh, relu, gelu...)\n"
    "      -o OUT.svg        output file (required)\n"
    "  fmt FILE...     print the files in the canonical layout (- reads stdin)\n"
    "      -w                rewrite the files in place instead (when they change)\n"
    "      --check           only name the files that are not formatted; exit 1 if any\n"
    "  dump ast FILE   print the syntax tree (stable, for golden tests)\n"
    "  dump ir FILE    print the checked IR graph with shapes\n"
    "  lsp             the Language Server Protocol on standard input and output\n"
    "      --stdio           accepted for editors' clients; changes nothing\n"
    "\n"
    "  nnc --help | --version\n"
    "\n"
    "exit status: 0 success, 1 error in the input, 2 bad command line,\n"
    "             3 training diverged (NaN or infinite loss or weights)\n";

typedef enum Command {
    CMD_RUN, CMD_CHECK, CMD_EMIT, CMD_DUMP_AST, CMD_DUMP_IR, CMD_PLOT, CMD_LSP
} Command;

typedef struct Cli {
    Command command;
    const char *file;
    RtOptions rt;
    const char *weights, *save, *model, *out, *prefix, *header, *target, *quantize;
    bool with_main, keep_batchnorm, verbose;
    bool raw_input; /* emit --target onnx: the graph starts with the dataset's preprocessing */
    bool stdio;     /* lsp --stdio: what editors' clients pass; stdio is the only transport */
} Cli;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "nnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'nnc --help'.\n");
    return EXIT_USAGE;
}

/* Parses a non-negative decimal integer flag value; false when it is not. */
static bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* The flags: which commands take each, and where its value goes. */
typedef enum FlagKind { F_BOOL, F_STRING, F_SEED, F_EPOCHS } FlagKind;
enum { FOR_RUN = 1, FOR_EMIT = 2, FOR_PLOT = 4, FOR_LSP = 8 };

typedef struct Flag {
    const char *name, *alias;
    FlagKind kind;
    int commands;
    size_t offset; /* of the bool or const char * in Cli */
} Flag;

#define CLI_FIELD(f) offsetof(Cli, f)
static const Flag flags[] = {
    {"--quiet", "-q", F_BOOL, FOR_RUN, CLI_FIELD(rt.quiet)},
    {"--json", NULL, F_BOOL, FOR_RUN, CLI_FIELD(rt.json)},
    {"--trace-int8", NULL, F_BOOL, FOR_RUN, CLI_FIELD(rt.trace_int8)},
    {"--verbose", NULL, F_BOOL, FOR_RUN, CLI_FIELD(verbose)},
    {"--main", NULL, F_BOOL, FOR_EMIT, CLI_FIELD(with_main)},
    {"--raw-input", NULL, F_BOOL, FOR_EMIT, CLI_FIELD(raw_input)},
    {"--keep-batchnorm", NULL, F_BOOL, FOR_EMIT, CLI_FIELD(keep_batchnorm)},
    {"--seed", NULL, F_SEED, FOR_RUN | FOR_EMIT, 0},
    {"--epochs", NULL, F_EPOCHS, FOR_RUN | FOR_EMIT, 0},
    {"--weights", NULL, F_STRING, FOR_RUN | FOR_EMIT, CLI_FIELD(weights)},
    {"--model", NULL, F_STRING, FOR_RUN | FOR_EMIT, CLI_FIELD(model)},
    {"--save", NULL, F_STRING, FOR_RUN, CLI_FIELD(save)},
    {"--plot", NULL, F_STRING, FOR_RUN, CLI_FIELD(rt.plot_dir)},
    {"--checkpoint", NULL, F_STRING, FOR_RUN, CLI_FIELD(rt.checkpoint_dir)},
    {"--resume", NULL, F_STRING, FOR_RUN, CLI_FIELD(rt.resume_dir)},
    {"-o", "--output", F_STRING, FOR_EMIT | FOR_PLOT, CLI_FIELD(out)},
    {"--prefix", NULL, F_STRING, FOR_EMIT, CLI_FIELD(prefix)},
    {"--header", NULL, F_STRING, FOR_EMIT, CLI_FIELD(header)},
    {"--target", NULL, F_STRING, FOR_EMIT, CLI_FIELD(target)},
    {"--stdio", NULL, F_BOOL, FOR_LSP, CLI_FIELD(stdio)},
    {"--quantize", NULL, F_STRING, FOR_RUN | FOR_EMIT, CLI_FIELD(quantize)},
    {"--calibrate", NULL, F_STRING, FOR_RUN | FOR_EMIT, CLI_FIELD(rt.calibrate)},
};

static const Flag *find_flag(const char *arg, Command cmd)
{
    int mask = cmd == CMD_RUN ? FOR_RUN : cmd == CMD_EMIT ? FOR_EMIT : cmd == CMD_PLOT ? FOR_PLOT
             : cmd == CMD_LSP ? FOR_LSP : 0;
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        const Flag *f = &flags[i];
        bool named = strcmp(arg, f->name) == 0 || (f->alias && strcmp(arg, f->alias) == 0);
        if (named && (f->commands & mask))
            return f;
    }
    return NULL;
}

static int set_number(Cli *cli, const Flag *f, const char *value)
{
    unsigned long long v;
    if (f->kind == F_SEED) {
        if (!parse_count(value, UINT64_MAX, &v))
            return usage_error("--seed needs a non-negative integer, not '%s'", value);
        cli->rt.override_seed = true;
        cli->rt.seed = v;
        return EXIT_OK;
    }
    if (!parse_count(value, 1000000000ULL, &v))
        return usage_error("--epochs needs an integer from 0 to 1000000000, not '%s'", value);
    cli->rt.epochs = (long)v;
    cli->rt.no_training = v == 0;
    return EXIT_OK;
}

static int parse_flag(Cli *cli, int argc, char **argv, int *i)
{
    const Flag *f = find_flag(argv[*i], cli->command);
    if (!f)
        return usage_error("unknown option '%s' for this command", argv[*i]);
    if (f->kind == F_BOOL) {
        *(bool *)((char *)cli + f->offset) = true;
        return EXIT_OK;
    }
    if (*i + 1 >= argc)
        return usage_error("option '%s' needs a value", argv[*i]);
    const char *value = argv[++*i];
    if (f->kind == F_STRING) {
        *(const char **)((char *)cli + f->offset) = value;
        return EXIT_OK;
    }
    return set_number(cli, f, value);
}

static int parse_command(Cli *cli, int argc, char **argv, int *first)
{
    static const struct { const char *name; Command cmd; } commands[] = {
        {"run", CMD_RUN}, {"check", CMD_CHECK}, {"emit", CMD_EMIT}, {"lsp", CMD_LSP}};
    *first = 2;
    if (strcmp(argv[1], "dump") == 0) {
        if (argc < 3 || (strcmp(argv[2], "ast") && strcmp(argv[2], "ir")))
            return usage_error("%s", "dump needs 'ast' or 'ir'");
        cli->command = strcmp(argv[2], "ast") == 0 ? CMD_DUMP_AST : CMD_DUMP_IR;
        *first = 3;
        return EXIT_OK;
    }
    if (strcmp(argv[1], "plot") == 0) {
        if (argc < 3 || strcmp(argv[2], "activations"))
            return usage_error("%s", "plot needs 'activations'");
        cli->command = CMD_PLOT;
        *first = 3;
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            cli->command = commands[i].cmd;
            return EXIT_OK;
        }
    }
    return usage_error("unknown command '%s'", argv[1]);
}

static int parse_cli(Cli *cli, int argc, char **argv)
{
    int first, rc = parse_command(cli, argc, argv, &first);
    for (int i = first; rc == EXIT_OK && i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            rc = parse_flag(cli, argc, argv, &i);
        else if (cli->file)
            rc = usage_error("unexpected argument '%s'", argv[i]);
        else
            cli->file = argv[i];
    }
    bool no_file = cli->command == CMD_PLOT || cli->command == CMD_LSP;
    if (rc == EXIT_OK && no_file && cli->file)
        rc = usage_error("unexpected argument '%s'", cli->file);
    else if (rc == EXIT_OK && cli->command == CMD_PLOT && !cli->out)
        rc = usage_error("%s", "plot needs -o FILE.svg");
    else if (rc == EXIT_OK && !no_file && !cli->file)
        rc = usage_error("%s needs a FILE", argv[1]);
    if (rc == EXIT_OK && cli->quantize && strcmp(cli->quantize, "int8") != 0)
        rc = usage_error("--quantize needs int8, not '%s'", cli->quantize);
    if (rc == EXIT_OK && cli->rt.calibrate && !cli->quantize)
        rc = usage_error("%s", "--calibrate chooses the ranges of --quantize int8; give both");
    if (rc == EXIT_OK && cli->rt.trace_int8 && !(cli->quantize && cli->rt.json))
        rc = usage_error("%s", "--trace-int8 adds the int8 layers to --json's rows; give "
                         "--quantize int8 and --json too");
    cli->rt.quantize_int8 = cli->quantize != NULL;
    return rc;
}

/* The model --weights/--save/emit apply to: --model, or the model of the
 * last train step, or of the last evaluate step, or the only model. */
static bool choose_model(const IrProgram *p, const char *name, Diag *d, size_t *out)
{
    if (name) {
        for (size_t i = 0; i < p->n_models; i++)
            if (strcmp(p->models[i].name, name) == 0)
                return *out = i, true;
        diag_error(d, loc_none(), "--model: the file has no model '%s'", name);
        return false;
    }
    for (size_t i = p->n_steps; i-- > 0;) {
        const IrStep *st = &p->steps[i];
        *out = st->kind == STEP_TRAIN ? p->trains[st->index].model : p->evals[st->index].model;
        return true;
    }
    if (p->n_models == 1)
        return *out = 0, true;
    diag_error(d, loc_none(), p->n_models ? "the file has several models: choose one with --model"
                                          : "the file declares no model");
    return false;
}

/* Output paths are checked before any training, so a typo does not cost a
 * long run. */
static bool probe_outputs(const Cli *cli, Diag *d)
{
    bool ok = true;
    if (cli->save)
        ok &= atomic_probe(d, cli->save);
    if (cli->out)
        ok &= atomic_probe(d, cli->out);
    if (cli->header)
        ok &= atomic_probe(d, cli->header);
    if (cli->rt.plot_dir)
        ok &= dir_prepare(d, cli->rt.plot_dir);
    if (cli->rt.checkpoint_dir)
        ok &= dir_prepare(d, cli->rt.checkpoint_dir);
    return ok;
}

/* --resume DIR continues in DIR unless --checkpoint says elsewhere; it
 * needs DIR to exist, and it decides the starting weights itself. */
static bool resume_options(Cli *cli, Diag *d)
{
    const char *dir = cli->rt.resume_dir;
    if (!dir)
        return true;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        diag_error(d, loc_none(), "--resume %s: no such folder of checkpoints", dir);
        return false;
    }
    if (cli->weights) {
        diag_error(d, loc_none(), "--resume and --weights both choose the starting weights; "
                   "give one");
        return false;
    }
    if (!cli->rt.checkpoint_dir)
        cli->rt.checkpoint_dir = dir;
    return true;
}

/* run --quantize int8: every evaluated model must be one the int8 path
 * runs, with calibration rows that fit, said before any training. */
static bool quantizable(const IrProgram *p, const char *calibrate, Diag *d)
{
    for (size_t i = 0; i < p->n_evals; i++)
        if (!rt_quant_check(p, p->evals[i].model, calibrate, d))
            return false;
    return true;
}

static int run_program(const IrProgram *prog, const Cli *given, Diag *d)
{
    size_t model = 0;
    Cli resolved = *given, *cli = &resolved;
    if (!resume_options(cli, d))
        return EXIT_USER;
    bool needs_model = cli->weights || cli->save;
    if (needs_model && !choose_model(prog, cli->model, d, &model))
        return EXIT_USER;
    if (!probe_outputs(cli, d) || (cli->quantize && !quantizable(prog, cli->rt.calibrate, d)))
        return EXIT_USER;
    RtSession *s = rt_session_new(prog, &cli->rt, d);
    if (!s)
        return EXIT_USER;
    bool ok = !cli->weights || rt_weights_load(s, model, cli->weights, d);
    ok = ok && rt_session_run(s, d);
    ok = ok && (!cli->save || rt_weights_save(s, model, cli->save, d));
    int rc = ok ? EXIT_OK : rt_session_diverged(s) ? EXIT_DIVERGED : EXIT_USER;
    rt_session_free(s);
    return rc;
}

/* true when a parameter block gives every parameter tensor of the model. */
static bool all_fixed(const IrModel *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        IrParam ps[IR_MAX_PARAMS];
        size_t np = ir_node_params(&m->nodes[i], ps);
        for (size_t k = 0; k < np; k++)
            if (!m->nodes[i].param_init[k])
                return false;
    }
    return true;
}

/* One line for the emitted file's header: where its weights came from. */
static const char *weights_origin(Arena *a, const Cli *cli, const IrProgram *p, size_t model,
                                  bool trained)
{
    if (cli->weights)
        return arena_printf(a, "loaded from %s", cli->weights);
    if (!trained)
        return all_fixed(&p->models[model]) ? "fixed in the model's parameter blocks"
               : arena_printf(a, "not trained: initialised like nn.Linear (seed %llu)%s",
                              (unsigned long long)(cli->rt.override_seed ? cli->rt.seed : 0),
                              "; parameter blocks where given");
    for (size_t i = p->n_trains; i-- > 0;) {
        if (p->trains[i].model != model)
            continue;
        const IrTrain *t = &p->trains[i];
        uint64_t seed = cli->rt.override_seed ? cli->rt.seed : t->seed;
        return arena_printf(a, "trained by nnc on %s (%s, seed %llu), as `nnc run` does",
                            p->datasets[t->dataset].name, ir_loss_name(t->loss.kind),
                            (unsigned long long)seed);
    }
    return "trained by nnc";
}

typedef enum Target { TARGET_C, TARGET_C_HEADER, TARGET_ONNX, TARGET_PYTORCH } Target;

/* What one emitted artefact is written from: the float weights, or with
 * --quantize int8 the quantized network. */
typedef struct Artifact {
    const IrModel *m;
    const EmitWeights *w;
    const QModel *q; /* NULL: float */
} Artifact;

static bool write_target(FILE *f, Target t, const Artifact *art, const EmitOptions *o)
{
    const IrModel *m = art->m;
    const EmitWeights *w = art->w;
    if (art->q && t == TARGET_ONNX)
        return emit_onnx_int8(f, art->q, o);
    if (art->q)
        return t == TARGET_C_HEADER ? emit_c_int8_header(f, art->q, o) : emit_c_int8(f, art->q, o);
    switch (t) {
    case TARGET_C_HEADER: return emit_c_header(f, m, o);
    case TARGET_ONNX: return emit_onnx(f, m, w, o);
    case TARGET_PYTORCH: return false; /* a folder, written by emit_pytorch */
    case TARGET_C: break;
    }
    return emit_c(f, m, w, o);
}

/* Writes one emitted artefact atomically: to path, or stdout when NULL. */
static bool write_artifact(const char *path, Diag *d, const Artifact *art, const EmitOptions *o,
                           Target t)
{
    if (!path) {
        bool ok = write_target(stdout, t, art, o);
        return ok && fflush(stdout) == 0;
    }
    AtomicFile af;
    if (!atomic_open(d, path, &af))
        return false;
    bool ok = write_target(af.f, t, art, o);
    if (!ok) {
        atomic_abort(&af);
        diag_error(d, loc_none(), "cannot write '%s'", path);
        return false;
    }
    return atomic_commit(d, &af);
}


/* The dataset whose preprocessing the model's input follows: the one its
 * last train block trains on (where its weights come from), else the one
 * it is first evaluated on; NULL when the file runs it on none. */
static const IrDataSource *model_preprocess(const IrProgram *p, size_t model)
{
    for (size_t k = p->n_trains; k-- > 0;)
        if (p->trains[k].model == model)
            return p->datasets[p->trains[k].dataset].source;
    for (size_t k = 0; k < p->n_evals; k++)
        if (p->evals[k].model == model)
            return p->datasets[p->evals[k].dataset].source;
    return NULL;
}

/* The model's weights in a session, per node, as the emitters take them. */
static bool session_weights(Arena *a, const RtSession *s, const IrModel *m, size_t model,
                            EmitWeights *out)
{
    const float **params = arena_array(a, m->n_nodes, sizeof *params);
    if (!params)
        return false;
    for (size_t i = 0; i < m->n_nodes; i++)
        params[i] = rt_node_params(s, model, i);
    *out = (EmitWeights){params};
    return true;
}

static bool emit_model(Arena *a, const Cli *cli, Target target, const IrProgram *p,
                       size_t model, RtSession *s, bool trained, Diag *d)
{
    const IrModel *m = &p->models[model];
    EmitWeights w;
    if (!session_weights(a, s, m, model, &w))
        return false;
    const char *bad;
    if (!emit_weights_finite(m, &w, &bad)) {
        diag_error(d, loc_none(), "the weights of layer '%s' are not finite (NaN or infinite): "
                   "the training diverged; try a smaller learning rate", bad);
        return false;
    }
    const char *header_base = cli->header ? strrchr(cli->header, '/') : NULL;
    EmitOptions o = {
        .preprocess = model_preprocess(p, model),
        .raw_input = cli->raw_input,
        .prefix = cli->prefix ? cli->prefix : emit_default_prefix(a, m),
        .source_name = cli->file,
        .weights_origin = weights_origin(a, cli, p, model, trained),
        .header_name = header_base ? header_base + 1 : cli->header,
        .with_main = cli->with_main,
        .keep_batchnorm = cli->keep_batchnorm,
    };
    Artifact art = {m, &w, NULL};
    QModel q;
    if (cli->quantize) {
        if (!rt_quantize(s, model, cli->rt.calibrate, a, &q, d))
            return false;
        art.q = &q;
    }
    if (cli->header && !write_artifact(cli->header, d, &art, &o, TARGET_C_HEADER))
        return false;
    return write_artifact(cli->out, d, &art, &o, target);
}

/* A C identifier in the C locale (nnc never calls setlocale). */
static bool valid_prefix(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

/* --target, and the flags that only make sense for some targets. */
static int parse_target(const Cli *cli, Target *out)
{
    const char *t = cli->target ? cli->target : "c";
    if (cli->raw_input && strcmp(t, "onnx") != 0)
        return usage_error("--raw-input is for --target onnx, not '%s'", t);
    if (strcmp(t, "c") == 0)
        return *out = TARGET_C, EXIT_OK;
    if (strcmp(t, "onnx") == 0)
        *out = TARGET_ONNX;
    else if (strcmp(t, "pytorch") == 0)
        *out = TARGET_PYTORCH;
    else
        return usage_error("--target needs c, onnx or pytorch, not '%s'", t);
    if (cli->prefix || cli->header || cli->with_main || cli->keep_batchnorm)
        return usage_error("--prefix, --header, --main and --keep-batchnorm are for --target c, "
                           "not '%s'", t);
    if (cli->quantize && *out != TARGET_ONNX)
        return usage_error("--quantize int8 writes C or ONNX; --target %s has no int8 form", t);
    if (!cli->out)
        return usage_error(*out == TARGET_ONNX ? "--target %s needs -o MODEL.onnx"
                                               : "--target %s needs -o DIR", t);
    if (*out == TARGET_PYTORCH && cli->weights)
        return usage_error("--weights is not for --target %s: the package trains its own", t);
    if (*out == TARGET_PYTORCH && cli->rt.no_training)
        return usage_error("--epochs 0 is not for --target %s: run the package's train.py "
                           "with --epochs 0 to only evaluate", t);
    return EXIT_OK;
}

/* A session for emit: its training log goes to stderr, so that standard
 * output carries only what is emitted. */
static RtSession *quiet_session(const IrProgram *prog, const Cli *cli, Diag *d)
{
    RtOptions rt = cli->rt;
    rt.out = stderr;
    rt.quiet = true;
    return rt_session_new(prog, &rt, d);
}

/* The PyTorch package trains itself; it gets nnc's initial weights (a new
 * session, never trained) so that it starts where `nnc run` starts. */
static int emit_pytorch_package(Arena *a, const IrProgram *prog, const Cli *cli, size_t model,
                                Diag *d)
{
    RtSession *s = quiet_session(prog, cli, d);
    if (!s)
        return EXIT_USER;
    EmitWeights init;
    EmitPytorchOptions o = {
        .dir = cli->out,
        .source_name = cli->file,
        .override_seed = cli->rt.override_seed,
        .seed = cli->rt.seed,
        .epochs = cli->rt.epochs,
        .init = &init,
    };
    bool ok = session_weights(a, s, &prog->models[model], model, &init) &&
              emit_pytorch(prog, model, &o, d);
    rt_session_free(s);
    return ok ? EXIT_OK : EXIT_USER;
}

/* emit: weights from --weights, or by running the file's training (its
 * log goes to stderr, so stdout carries only the C file). */
static int emit_program(Arena *a, const IrProgram *prog, const Cli *cli, Diag *d)
{
    size_t model;
    Target target = TARGET_C;
    int rc = parse_target(cli, &target);
    if (rc != EXIT_OK)
        return rc;
    if (cli->prefix && !valid_prefix(cli->prefix))
        return usage_error("--prefix needs a C identifier, not '%s'", cli->prefix);
    if (!choose_model(prog, cli->model, d, &model))
        return EXIT_USER;
    if (!cli->model && prog->n_models > 1)
        fprintf(stderr, "nnc: emitting model '%s' (the file has %zu models; choose one with "
                "--model)\n", prog->models[model].name, prog->n_models);
    if (cli->raw_input && !model_preprocess(prog, model)) {
        fprintf(stderr, "nnc: emit: --raw-input: model '%s' is trained and evaluated on no "
                "dataset, so there is no preprocessing to put in front of it\n",
                prog->models[model].name);
        return EXIT_USER;
    }
    /* The PyTorch package writes every layer kind; it checks what Python
     * cannot take (names) itself. */
    if (target == TARGET_PYTORCH)
        return emit_pytorch_package(a, prog, cli, model, d);
    char why[256];
    const IrNode *bad = target == TARGET_ONNX
                            ? emit_onnx_unsupported(&prog->models[model], why, sizeof why)
                            : emit_c_refusal(&prog->models[model], why, sizeof why);
    if (bad) {
        fprintf(stderr, "nnc: emit: layer '%s' (%s) cannot be written by --target %s: %s\n",
                bad->layer, ir_ops[bad->op].name, target == TARGET_ONNX ? "onnx" : "c", why);
        return EXIT_USER;
    }
    if (cli->quantize && !rt_quant_check(prog, model, cli->rt.calibrate, d))
        return EXIT_USER;
    bad = cli->quantize && target == TARGET_ONNX ? emit_onnx_int8_refusal(&prog->models[model])
                                                 : NULL;
    if (bad) {
        fprintf(stderr, "nnc: emit: --target onnx --quantize int8: layer '%s' (%s) has no int8 "
                "ONNX form; --target c writes it\n", bad->layer, ir_ops[bad->op].name);
        return EXIT_USER;
    }
    if (!probe_outputs(cli, d))
        return EXIT_USER;
    RtSession *s = quiet_session(prog, cli, d);
    if (!s)
        return EXIT_USER;
    bool trained = !cli->weights && !cli->rt.no_training && rt_model_is_trained(prog, model);
    bool ok = cli->weights ? rt_weights_load(s, model, cli->weights, d)
                           : !trained || rt_session_train(s, d);
    ok = ok && emit_model(a, cli, target, prog, model, s, trained, d);
    rc = ok ? EXIT_OK : rt_session_diverged(s) ? EXIT_DIVERGED : EXIT_USER;
    rt_session_free(s);
    return rc;
}

/* Runs the parsed command on its file. */
static int execute(const Cli *cli)
{
    Diag d;
    diag_init(&d, stderr);
    if (cli->command == CMD_PLOT)
        return rt_plot_activations(cli->out, &d) ? EXIT_OK : EXIT_USER;
    if (cli->command == CMD_LSP)
        return lsp_serve(stdin, stdout);
    Source src;
    if (!source_read(&d, cli->file, &src))
        return EXIT_USER;
    Arena arena;
    arena_init(&arena);
    int rc = EXIT_USER;
    if (cli->command == CMD_DUMP_AST) {
        AstFile *ast = front_parse(&arena, &d, &src);
        if (ast) {
            ast_dump(stdout, ast);
            rc = EXIT_OK;
        }
    } else {
        IrProgram *prog = front_compile(&arena, &d, &src);
        if (!prog)
            rc = EXIT_USER;
        else if (cli->command == CMD_CHECK)
            rc = EXIT_OK;
        else if (cli->command == CMD_DUMP_IR)
            ir_dump(stdout, prog), rc = EXIT_OK;
        else if (cli->command == CMD_EMIT)
            rc = emit_program(&arena, prog, cli, &d);
        else
            rc = run_program(prog, cli, &d);
    }
    arena_free(&arena);
    source_free(&src);
    return rc;
}

/* ---- nnc fmt [-w | --check] FILE... ------------------------------------- */

typedef struct FmtCli {
    bool write, check;
} FmtCli;

static int fmt_parse_cli(int argc, char **argv, FmtCli *cli)
{
    int files = 0;
    bool has_stdin = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-w") == 0)
            cli->write = true;
        else if (strcmp(a, "--check") == 0)
            cli->check = true;
        else if (a[0] == '-' && a[1] != '\0')
            return usage_error("unknown option '%s' for this command", a);
        else
            files++;
        if (strcmp(a, "-") == 0)
            has_stdin = true;
    }
    if (cli->write && cli->check)
        return usage_error("%s", "fmt takes -w or --check, not both");
    if (files == 0)
        return usage_error("%s", "fmt needs a FILE (- for standard input)");
    if (cli->write && has_stdin)
        return usage_error("%s", "fmt -w cannot rewrite standard input");
    return EXIT_OK;
}

/* Replaces the file path points to (through symbolic links) atomically,
 * keeping its permissions. */
static bool fmt_rewrite(Diag *d, const char *path, const char *text, size_t len)
{
    char *real = realpath(path, NULL);
    struct stat st;
    if (!real || stat(real, &st) != 0) {
        diag_error(d, loc_none(), "cannot write '%s': %s", path, strerror(errno));
        free(real);
        return false;
    }
    AtomicFile af;
    bool ok = atomic_open(d, real, &af);
    free(real);
    if (!ok)
        return false;
    af.mode = (unsigned)(st.st_mode & 07777);
    if (fwrite(text, 1, len, af.f) != len) {
        atomic_abort(&af);
        diag_error(d, loc_none(), "cannot write '%s'", path);
        return false;
    }
    return atomic_commit(d, &af);
}

/* Formats one file ("-": standard input) as cli says. */
static int fmt_one(const FmtCli *cli, const char *path, Diag *d)
{
    Source src;
    bool read = strcmp(path, "-") == 0 ? source_read_stream(d, stdin, "<stdin>", &src)
                                       : source_read(d, path, &src);
    if (!read)
        return EXIT_USER;
    Arena arena;
    arena_init(&arena);
    size_t len;
    char *text = fmt_text(&arena, d, &src, &len);
    int rc = EXIT_USER;
    if (text) {
        bool changed = len != src.len || memcmp(text, src.text, len) != 0;
        if (cli->check) {
            if (changed)
                printf("%s\n", src.path);
            rc = changed ? EXIT_USER : EXIT_OK;
        } else if (cli->write) {
            rc = !changed || fmt_rewrite(d, path, text, len) ? EXIT_OK : EXIT_USER;
        } else {
            rc = fwrite(text, 1, len, stdout) == len ? EXIT_OK : EXIT_USER;
        }
    }
    arena_free(&arena);
    source_free(&src);
    return rc;
}

static int fmt_command(int argc, char **argv)
{
    FmtCli cli = {0};
    int rc = fmt_parse_cli(argc, argv, &cli);
    if (rc != EXIT_OK)
        return rc;
    Diag d;
    diag_init(&d, stderr);
    for (int i = 2; i < argc; i++) {
        bool is_flag = argv[i][0] == '-' && argv[i][1] != '\0';
        if (!is_flag && fmt_one(&cli, argv[i], &d) != EXIT_OK)
            rc = EXIT_USER;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "missing command");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("nnc %s\n", NNC_VERSION);
        return EXIT_OK;
    }
    int rc;
    if (strcmp(argv[1], "fmt") == 0) {
        rc = fmt_command(argc, argv);
    } else {
        Cli cli = {0};
        cli.rt.out = stdout;
        rc = parse_cli(&cli, argc, argv);
        if (rc != EXIT_OK)
            return rc;
        cli.rt.file = cli.file;
        rc = execute(&cli);
        /* After the run: OpenBLAS is loaded only by the first large product. */
        if (cli.verbose)
            fprintf(stderr, "nnc: large products (m*n*k >= 32768): %s\n", rt_blas_describe());
    }
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "nnc: error writing output: %s\n", strerror(errno));
        rc = EXIT_USER;
    }
    return rc;
}
