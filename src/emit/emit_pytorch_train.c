/* train.py of the PyTorch package: the model's last train block as a
 * training script (loss, optimizer with every hyperparameter, epochs, batch,
 * seed, log_every, sweep) that runs as one process or under torchrun with
 * DistributedDataParallel, then the model's evaluate blocks on rank 0. The
 * settings are written as constants at the top; the loop below them is the
 * same for every model. */
#include <stdarg.h>
#include <string.h>

#include "pytorch.h"

static const char imports[] =
    "import argparse\n"
    "import copy\n"
    "import math\n"
    "import os\n"
    "import sys\n"
    "import time\n"
    "\n"
    "import torch\n"
    "import torch.distributed as dist\n"
    "from torch import nn\n"
    "from torch.nn.parallel import DistributedDataParallel\n"
    "from torch.utils.data import DataLoader, TensorDataset\n"
    "from torch.utils.data.distributed import DistributedSampler\n"
    "\n"
    "import data\n";

/* The package folder as its parent folder sees it: "-o out/xornet/" gives
 * "xornet", the path a reader next to the package types. */
static void put_package_name(FILE *f, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    fprintf(f, "%.*s", (int)(n - start), dir + start);
}

static void train_docstring(FILE *f, const PyPackage *k)
{
    const IrTrain *t = k->train;
    if (t)
        fprintf(f, "\"\"\"Trains %s on %s as the train block of %s says, then evaluates it.\n",
                k->m->name, k->prog->datasets[t->dataset].name, k->source_base);
    else
        fprintf(f, "\"\"\"Evaluates %s as %s says (the file has no train block for it).\n",
                k->m->name, k->source_base);
    fputs("Written by nnc (--target pytorch). One process:\n\n    python3 ", f);
    put_package_name(f, k->o->dir);
    fputs("/train.py [--epochs N] [--seed N] [--save W.safetensors]\n\n"
          "or several with DistributedDataParallel (README.md has multi-machine runs):\n\n"
          "    torchrun --standalone --nproc_per_node=2 ", f);
    put_package_name(f, k->o->dir);
    fputs("/train.py\n\"\"\"\n", f);
}

static void put_sweep(FILE *f, const IrTrain *t)
{
    if (t->n_sweep == 0) {
        fputs("SWEEP = None        # or (\"lr\", [0.01, 0.1]): one run per value, same initial "
              "weights\n", f);
        return;
    }
    fprintf(f, "SWEEP = (\"%s\", [", ir_hyper_name(t->sweep));
    for (size_t i = 0; i < t->n_sweep; i++) {
        if (i)
            fputs(", ", f);
        py_put_double(f, t->sweep_values[i]);
    }
    fputs("])  # one run per value from the same initial weights\n", f);
}

/* NAME = value, with a comment aligned after it when there is one. */
static void put_setting(FILE *f, const char *comment, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void put_setting(FILE *f, const char *comment, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (comment)
        fprintf(f, "%-20s# %s\n", line, comment);
    else
        fprintf(f, "%s\n", line);
}

static void train_settings(FILE *f, const PyPackage *k)
{
    const IrTrain *t = k->train;
    const EmitPytorchOptions *o = k->o;
    fprintf(f, "\n# The train block of %s (line %d)%s.\n", k->source_base, t->loc.line,
            o->override_seed || o->epochs ? ", with nnc emit's --seed/--epochs" : "");
    fputs("TRAIN_DATA = ", f);
    py_put_string(f, k->prog->datasets[t->dataset].name);
    fputc('\n', f);
    put_setting(f, NULL, "EPOCHS = %ld", o->epochs > 0 ? o->epochs : t->epochs);
    put_setting(f, "the global batch: rows per step over all processes", "BATCH = %zu",
                t->batch);
    put_setting(f, "torch.manual_seed: shuffling, dropout", "SEED = %llu",
                (unsigned long long)(o->override_seed ? o->seed : t->seed));
    put_setting(f, "epochs between loss lines (0: epochs / 10)", "LOG_EVERY = %ld",
                t->log_every);
    put_sweep(f, t);
}

static void put_eval_list(FILE *f, const PyPackage *k)
{
    fprintf(f, "# The evaluate blocks of %s, in file order.\nEVALUATE = [", k->m->name);
    for (size_t i = 0; i < k->n_evals; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", k->prog->datasets[k->evals[i]->dataset].name);
    fputs("]\n\n\n", f);
}

static void put_loss(FILE *f, const IrTrain *t)
{
    const LossInfo *l = &ir_losses[t->loss];
    fprintf(f, "def make_loss():\n    return nn.%s()", l->torch);
    if (l->torch_note)
        fprintf(f, "  # %s", l->torch_note);
    fputs("\n\n\n", f);
}

/* The optimizer's arguments as torch.optim keywords, each given the
 * make_optimizer parameter of its nnc name: "lr=lr, betas=(beta1, beta2)". */
static void put_optimizer_call(FILE *f, const OptimInfo *info)
{
    fprintf(f, "torch.optim.%s(params", info->torch);
    for (size_t i = 0; i < info->n_args; i++) {
        const HyperInfo *h = &ir_hypers[info->args[i].hp];
        bool opens, closes;
        ir_optim_torch_group(info, i, &opens, &closes);
        if (opens)
            fprintf(f, ", %s=%s", h->torch, closes ? "" : "(");
        else
            fputs(", ", f);
        fprintf(f, "%s%s", h->name, closes && !opens ? ")" : "");
    }
    fputc(')', f);
}

static void put_optimizer(FILE *f, const IrOptimizer *o)
{
    const OptimInfo *info = &ir_optims[o->kind];
    fputs("def make_optimizer(params", f);
    for (size_t i = 0; i < info->n_args; i++) {
        HyperParam h = info->args[i].hp;
        fprintf(f, ", %s=", ir_hypers[h].name);
        if (ir_hypers[h].type == HYPER_BOOL)
            fputs(o->hyper[h] != 0 ? "True" : "False", f);
        else
            py_put_double(f, o->hyper[h]);
    }
    fputs("):\n    \"\"\"The train block's optimizer; a sweep passes its value by name.\"\"\"\n"
          "    return ", f);
    put_optimizer_call(f, info);
    fputs("\n\n\n", f);
}

/* How y becomes the loss's target. A single target column on a model with
 * several outputs holds class labels (ir_targets_are_labels): class
 * indices for CrossEntropyLoss, one-hot rows for bce and mse. */
static void put_targets(FILE *f, const PyPackage *k)
{
    const IrDataset *ds = &k->prog->datasets[k->train->dataset];
    fputs("def targets(y):\n", f);
    if (!ir_targets_are_labels(ds, k->m)) {
        fputs("    \"\"\"y as the loss wants it: as it is, one row of targets per row.\"\"\"\n"
              "    return y\n\n\n", f);
        return;
    }
    fputs("    \"\"\"y holds class labels; ", f);
    if (k->train->loss == LOSS_CROSS_ENTROPY)
        fputs("CrossEntropyLoss wants them as class indices.\"\"\"\n"
              "    return y[:, 0].long()\n\n\n", f);
    else
        fprintf(f, "the loss compares one-hot rows.\"\"\"\n"
                   "    return nn.functional.one_hot(y[:, 0].long(), %zu).float()\n\n\n",
                k->m->out_units);
}

/* The part that is the same for every model. */
static const char loop_code[] =
    "def parse_args():\n"
    "    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])\n"
    "    p.add_argument(\"--epochs\", type=int, default=EPOCHS, help=\"0: only evaluate\")\n"
    "    p.add_argument(\"--seed\", type=int, default=SEED,\n"
    "                   help=\"torch.manual_seed: shuffling, dropout (and the initialisation \"\n"
    "                   \"with --torch-init)\")\n"
    "    p.add_argument(\"--save\", default=\"weights.safetensors\",\n"
    "                   help=\"where rank 0 writes the trained weights (safetensors)\")\n"
    "    p.add_argument(\"--init\", default=INIT if os.path.exists(INIT) else None,\n"
    "                   help=\"start from these weights (safetensors); default: nnc's initial \"\n"
    "                   \"weights, init.safetensors, where `nnc run` starts\")\n"
    "    p.add_argument(\"--torch-init\", action=\"store_true\",\n"
    "                   help=\"start from torch's nn.Linear initialisation (seeded by --seed)\")\n"
    "    p.add_argument(\"--data-root\", default=data.DATA_ROOT,\n"
    "                   help=\"the folder csv paths are relative to (default: %(default)s)\")\n"
    "    return p.parse_args()\n"
    "\n"
    "\n"
    "def setup():\n"
    "    \"\"\"(rank, world size). torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and\n"
    "    MASTER_PORT; a plain run is one process of one.\"\"\"\n"
    "    world = int(os.environ.get(\"WORLD_SIZE\", \"1\"))\n"
    "    if world == 1:\n"
    "        return 0, 1\n"
    "    dist.init_process_group(\"gloo\")  # gloo: collectives between CPU processes\n"
    "    return dist.get_rank(), world\n"
    "\n"
    "\n"
    "def log_interval(epochs):\n"
    "    \"\"\"Epochs between loss lines, as nnc chooses them.\"\"\"\n"
    "    every = LOG_EVERY if LOG_EVERY <= epochs else epochs // 10\n"
    "    return every if every > 0 else max(epochs // 10, 1)\n"
    "\n"
    "\n"
    "def train_run(model, x, y, epochs, batch, optim_args, seed, rank, world):\n"
    "    \"\"\"One training from the model's current weights. Each process takes its\n"
    "    share of every global batch (DistributedSampler); DistributedDataParallel\n"
    "    averages the gradients, so a step sees the whole batch. Returns the last\n"
    "    epoch's loss (the mean over the epoch's rows on all processes), or nan\n"
    "    when it diverged.\"\"\"\n"
    "    torch.manual_seed(seed + rank)  # dropout masks differ between processes\n"
    "    rows = TensorDataset(x, targets(y))\n"
    "    sampler = DistributedSampler(rows, num_replicas=world, rank=rank,\n"
    "                                 shuffle=batch < len(rows), seed=seed)\n"
    "    loader = DataLoader(rows, batch_size=max(batch // world, 1), sampler=sampler)\n"
    "    net = DistributedDataParallel(model) if world > 1 else model\n"
    "    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad],\n"
    "                               **optim_args)\n"
    "    loss_fn = make_loss()\n"
    "    every, width = log_interval(epochs), len(str(epochs))\n"
    "    model.train()\n"
    "    for epoch in range(1, epochs + 1):\n"
    "        sampler.set_epoch(epoch)\n"
    "        total = torch.zeros(2, dtype=torch.float64)  # sum of loss * rows, rows\n"
    "        for xb, yb in loader:\n"
    "            optimizer.zero_grad()\n"
    "            loss = loss_fn(net(xb), yb)\n"
    "            loss.backward()\n"
    "            optimizer.step()\n"
    "            total += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64)\n"
    "        if world > 1:\n"
    "            dist.all_reduce(total)\n"
    "        epoch_loss = (total[0] / total[1]).item()\n"
    "        if not math.isfinite(epoch_loss):\n"
    "            if rank == 0:\n"
    "                print(f\"diverged at epoch {epoch}: the loss became {epoch_loss}\")\n"
    "            return math.nan\n"
    "        if rank == 0 and (epoch == 1 or epoch == epochs or epoch % every == 0):\n"
    "            print(f\"epoch {epoch:{width}}/{epochs}  loss {epoch_loss:.7g}\", flush=True)\n"
    "    return epoch_loss\n"
    "\n"
    "\n"
    "def sweep_runs(epochs, rows):\n"
    "    \"\"\"(label, epochs, batch, optimizer arguments) of each run.\"\"\"\n"
    "    if SWEEP is None:\n"
    "        return [(\"\", epochs, BATCH, {})]\n"
    "    param, values = SWEEP\n"
    "    runs = []\n"
    "    for v in values:\n"
    "        run = (f\"{param}={v:g}\", epochs, BATCH, {})\n"
    "        if param == \"epochs\":\n"
    "            run = (run[0], int(v), BATCH, {})\n"
    "        elif param == \"batch\":\n"
    "            run = (run[0], epochs, int(v) if 1 <= v <= rows else rows, {})\n"
    "        else:\n"
    "            run[3][param] = v\n"
    "        runs.append(run)\n"
    "    return runs\n"
    "\n"
    "\n"
    "def save(model, path):\n"
    "    save_file(model.state_dict(), path, metadata={\"format\": \"pt\", \"producer\": \"nnc pytorch\"})\n"
    "    print(f\"wrote {path}\")\n"
    "\n"
    "\n"
    "def run_path(path, label):\n"
    "    root, ext = os.path.splitext(path)\n"
    "    return f\"{root}-{label}{ext or '.safetensors'}\"\n"
    "\n"
    "\n"
    "def train(model, args, rank, world):\n"
    "    \"\"\"Every run of the train block; the model keeps the weights of the run with\n"
    "    the lowest final loss (as nnc does for a sweep). False when all diverged.\"\"\"\n"
    "    x, y = data.load(TRAIN_DATA, args.data_root)\n"
    "    if not any(p.requires_grad for p in model.parameters()):\n"
    "        if rank == 0:\n"
    "            print(\"nothing to train: every layer is frozen\")\n"
    "        return True\n"
    "    if rank == 0:\n"
    "        print(f\"train {type(model).__name__} on {TRAIN_DATA}: {len(x)} rows, batch {BATCH} \"\n"
    "              f\"({max(BATCH // world, 1)} per process), {world} process(es), seed {args.seed}\")\n"
    "        if BATCH % world:\n"
    "            print(f\"note: batch {BATCH} is not a multiple of {world} processes\")\n"
    "    initial, best, start = copy.deepcopy(model.state_dict()), None, time.time()\n"
    "    for label, epochs, batch, optim_args in sweep_runs(args.epochs, len(x)):\n"
    "        model.load_state_dict(initial)\n"
    "        if rank == 0 and label:\n"
    "            print(f\"run {label}\")\n"
    "        loss = train_run(model, x, y, epochs, batch, optim_args, args.seed, rank, world)\n"
    "        if not math.isfinite(loss):\n"
    "            continue\n"
    "        if rank == 0 and label:\n"
    "            save(model, run_path(args.save, label))\n"
    "        if best is None or loss < best[0]:\n"
    "            best = (loss, label, copy.deepcopy(model.state_dict()))\n"
    "    if best is None:\n"
    "        model.load_state_dict(initial)\n"
    "        return False\n"
    "    model.load_state_dict(best[2])\n"
    "    if rank == 0:\n"
    "        kept = f\", kept the run {best[1]}\" if best[1] else \"\"\n"
    "        print(f\"trained in {time.time() - start:.2f} s: final loss {best[0]:.7g}{kept}\")\n"
    "        save(model, args.save)\n"
    "    return True\n"
    "\n"
    "\n"
    "def score(out, y):\n"
    "    \"\"\"nnc's verdict: (correct, rows) for a classifier, else the mean squared\n"
    "    error. One column of labels on several outputs: the argmax; 0/1 targets:\n"
    "    one-hot rows by argmax, otherwise each output > 0.5.\"\"\"\n"
    "    if y.shape[1] == 1 and out.shape[1] > 1:\n"
    "        return int((out.argmax(1) == y[:, 0].long()).sum()), len(y)\n"
    "    if not ((y == 0) | (y == 1)).all():\n"
    "        return float(((out.double() - y.double()) ** 2).mean())\n"
    "    if out.shape[1] > 1 and (y.sum(1) == 1).all():\n"
    "        return int((out.argmax(1) == y.argmax(1)).sum()), len(y)\n"
    "    return int(((out > 0.5) == (y == 1)).all(1).sum()), len(y)\n"
    "\n"
    "\n"
    "def evaluate(model, name, data_root):\n"
    "    x, y = data.load(name, data_root)\n"
    "    model.eval()\n"
    "    with torch.no_grad():\n"
    "        out = model(x)\n"
    "    what = f\"evaluate {type(model).__name__} on {name}:\"\n"
    "    result = None if y is None else score(out, y)\n"
    "    if result is None:\n"
    "        print(what, f\"{len(x)} rows, no targets\")\n"
    "    elif isinstance(result, float):\n"
    "        print(what, f\"mse {result:.7g}\")\n"
    "    else:\n"
    "        print(what, f\"accuracy {result[0]}/{result[1]} ({100 * result[0] / result[1]:.1f}%)\")\n"
    "\n"
    "\n"
    ;

/* main(), around the line that builds the model. */
static const char main_head[] =
    "def main():\n"
    "    args = parse_args()\n"
    "    rank, world = setup()\n"
    "    torch.manual_seed(args.seed)  # the same initial weights on every process\n";

static const char main_tail[] =
    "    if args.init and not args.torch_init:\n"
    "        model.load_state_dict(load_file(args.init))\n"
    "    if rank == 0:\n"
    "        print(model)\n"
    "    ok = TRAIN_DATA is None or args.epochs <= 0 or train(model, args, rank, world)\n"
    "    if rank == 0 and not ok:\n"
    "        print(\"training diverged: try a smaller learning rate\", file=sys.stderr)\n"
    "    if rank == 0 and ok:\n"
    "        for name in EVALUATE:\n"
    "            evaluate(model, name, args.data_root)\n"
    "    if world > 1:\n"
    "        dist.destroy_process_group()\n"
    "    return 0 if ok else 3\n"
    "\n"
    "\n"
    "if __name__ == \"__main__\":\n"
    "    sys.exit(main())\n";

void py_write_train(FILE *f, const PyPackage *k)
{
    train_docstring(f, k);
    fputs(imports, f);
    fprintf(f, "from model import %s\n", k->class_name);
    fputs("from safetensors_io import load_file, save_file\n", f);
    if (k->train) {
        train_settings(f, k);
    } else {
        fprintf(f, "\n# %s has no train block for %s: this script evaluates it.\n",
                k->source_base, k->m->name);
        fputs("TRAIN_DATA = None\nEPOCHS = 0\nSEED = 0\n", f);
    }
    fputs("# nnc's initial weights for this seed, where `nnc run` starts (--torch-init:\n"
          "# torch's own initialisation instead).\n"
          "INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), \"init.safetensors\")\n",
          f);
    put_eval_list(f, k);
    if (k->train) {
        put_loss(f, k->train);
        put_optimizer(f, &k->train->optimizer);
        put_targets(f, k);
    }
    fputs(loop_code, f);
    fputs(main_head, f);
    fprintf(f, "    model = %s()\n", k->class_name);
    fputs(main_tail, f);
}
