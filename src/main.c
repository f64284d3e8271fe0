/* The nnc command line: parse flags, call the stages, map results to exit
 * codes. 0 = success, 1 = the user's input is wrong, 2 = the command line is
 * wrong. Nothing below main.c ever exits. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/front.h"
#include "nnc/ir.h"
#include "nnc/runtime.h"
#include "nnc/version.h"

enum { EXIT_OK = 0, EXIT_USER = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: nnc <command> [options] FILE\n"
    "\n"
    "commands:\n"
    "  run FILE        train and evaluate as the file says\n"
    "      --seed N        override every train block's seed\n"
    "      --epochs N      override every train block's epochs\n"
    "      --quiet         print only the results\n"
    "  check FILE      report diagnostics only; exit 0 when clean\n"
    "  dump ast FILE   print the syntax tree (stable, for golden tests)\n"
    "  dump ir FILE    print the checked IR graph with shapes\n"
    "\n"
    "  nnc --help | --version\n"
    "\n"
    "exit status: 0 success, 1 error in the input, 2 bad command line\n";

typedef struct Cli {
    const char *command; /* run, check, dump */
    const char *dump_what;
    const char *file;
    RtOptions rt;
} Cli;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "nnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'nnc --help'.\n");
    return EXIT_USAGE;
}

/* Parses a non-negative decimal integer flag value; false when it is not. */
static bool parse_count(const char *s, unsigned long long max,
                        unsigned long long *out)
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

static int parse_flag(Cli *cli, int argc, char **argv, int *i)
{
    const char *flag = argv[*i];
    if (strcmp(flag, "--quiet") == 0 || strcmp(flag, "-q") == 0) {
        cli->rt.quiet = true;
        return EXIT_OK;
    }
    bool is_seed = strcmp(flag, "--seed") == 0;
    bool is_epochs = strcmp(flag, "--epochs") == 0;
    if (!is_seed && !is_epochs)
        return usage_error("unknown option '%s'", flag);
    if (*i + 1 >= argc)
        return usage_error("option '%s' needs a value", flag);
    const char *value = argv[++*i];
    unsigned long long v;
    if (is_seed) {
        if (!parse_count(value, UINT64_MAX, &v))
            return usage_error("--seed needs a non-negative integer, not '%s'", value);
        cli->rt.override_seed = true;
        cli->rt.seed = v;
        return EXIT_OK;
    }
    if (!parse_count(value, 1000000000ULL, &v) || v == 0)
        return usage_error("--epochs needs an integer from 1 to 1000000000, not '%s'", value);
    cli->rt.epochs = (long)v;
    return EXIT_OK;
}

static int parse_cli(Cli *cli, int argc, char **argv)
{
    cli->command = argv[1];
    int first = 2;
    if (strcmp(cli->command, "dump") == 0) {
        if (argc < 3 || (strcmp(argv[2], "ast") && strcmp(argv[2], "ir")))
            return usage_error("%s", "dump needs 'ast' or 'ir'");
        cli->dump_what = argv[2];
        first = 3;
    } else if (strcmp(cli->command, "run") && strcmp(cli->command, "check")) {
        return usage_error("unknown command '%s'", cli->command);
    }
    for (int i = first; i < argc; i++) {
        bool is_run = strcmp(cli->command, "run") == 0;
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (!is_run)
                return usage_error("unknown option '%s'", argv[i]);
            int rc = parse_flag(cli, argc, argv, &i);
            if (rc != EXIT_OK)
                return rc;
        } else if (cli->file) {
            return usage_error("unexpected argument '%s'", argv[i]);
        } else {
            cli->file = argv[i];
        }
    }
    if (!cli->file)
        return usage_error("%s needs a FILE", cli->command);
    return EXIT_OK;
}

static int run_program(const IrProgram *prog, const Cli *cli, Diag *d)
{
    RtSession *s = rt_session_new(prog, &cli->rt, d);
    if (!s)
        return EXIT_USER;
    bool ok = rt_session_run(s, d);
    rt_session_free(s);
    return ok ? EXIT_OK : EXIT_USER;
}

/* Runs the parsed command on its file. */
static int execute(const Cli *cli)
{
    Diag d;
    diag_init(&d, stderr);
    Source src;
    if (!source_read(&d, cli->file, &src))
        return EXIT_USER;
    Arena arena;
    arena_init(&arena);
    int rc = EXIT_USER;
    if (cli->dump_what && strcmp(cli->dump_what, "ast") == 0) {
        AstFile *ast = front_parse(&arena, &d, &src);
        if (ast) {
            ast_dump(stdout, ast);
            rc = EXIT_OK;
        }
    } else {
        IrProgram *prog = front_compile(&arena, &d, &src);
        if (prog && strcmp(cli->command, "check") == 0)
            rc = EXIT_OK;
        else if (prog && cli->dump_what)
            ir_dump(stdout, prog), rc = EXIT_OK;
        else if (prog)
            rc = run_program(prog, cli, &d);
    }
    arena_free(&arena);
    source_free(&src);
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
    Cli cli = {0};
    cli.rt.out = stdout;
    int rc = parse_cli(&cli, argc, argv);
    if (rc != EXIT_OK)
        return rc;
    rc = execute(&cli);
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "nnc: error writing output: %s\n", strerror(errno));
        rc = EXIT_USER;
    }
    return rc;
}
