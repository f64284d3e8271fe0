/* train.py of the PyTorch package: the model's last train block as a
 * training script (loss, optimizer with every hyperparameter, schedule,
 * epochs, batch, seed, log_every, clip_grad, validate, early_stop, sweep)
 * that runs as one process or under torchrun with DistributedDataParallel,
 * then the model's evaluate blocks on rank 0. The settings are written as
 * constants and small functions at the top; the loop below them is the same
 * for every model. */
#include <stdarg.h>
#include <string.h>

#include "pytorch.h"

static const char imports[] =
    "import argparse\n"
    "import copy\n"
    "import inspect\n"
    "import math\n"
    "import os\n"
    "import sys\n"
    "import time\n";

static const char torch_imports[] =
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

/* A hyperparameter's value in Python: True/False, a whole number for a
 * count (every, warmup, epochs), else a float. */
static void put_hyper(FILE *f, HyperParam h, double v)
{
    if (ir_hypers[h].type == HYPER_BOOL)
        fputs(v != 0 ? "True" : "False", f);
    else if (ir_hypers[h].range.integer)
        fprintf(f, "%.0f", v);
    else
        py_put_double(f, v);
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
        put_hyper(f, t->sweep, t->sweep_values[i]);
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
    /* Comments line up in column 21; a longer setting keeps two spaces. */
    int width = (int)strlen(line) + 2 > 20 ? (int)strlen(line) + 2 : 20;
    if (comment)
        fprintf(f, "%-*s# %s\n", width, line, comment);
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
    put_setting(f, "a schedule is given: loss lines show the epoch's lr", "SHOW_LR = %s",
                t->has_schedule ? "True" : "False");
    char clip[PY_DOUBLE_TEXT];
    put_setting(f, "max global L2 norm of the gradients (None: no clipping)", "CLIP_GRAD = %s",
                t->clip_grad > 0 ? py_double_text(clip, t->clip_grad) : "None");
    const char *valid = t->has_validate ? k->prog->datasets[t->validate].name : NULL;
    put_setting(f, "loss and score after every epoch (None: no validation)", "VALIDATE = %s%s%s",
                valid ? "\"" : "", valid ? valid : "None", valid ? "\"" : "");
    put_setting(f, "stop after N epochs without a lower validation loss (0: never)",
                "EARLY_STOP = %ld", t->early_stop);
}

static void put_eval_list(FILE *f, const PyPackage *k)
{
    fprintf(f, "# The evaluate blocks of %s, in file order.\nEVALUATE = [", k->m->name);
    for (size_t i = 0; i < k->n_evals; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", k->prog->datasets[k->evals[i]->dataset].name);
    fputs("]\n\n\n", f);
}

/* nn.HuberLoss(delta=0.5): the arguments that differ from torch's defaults
 * as its keywords, so that a default loss reads nn.CrossEntropyLoss(). */
static void put_loss(FILE *f, const IrTrain *t)
{
    const LossInfo *l = &ir_losses[t->loss.kind];
    fprintf(f, "def make_loss():\n    return nn.%s(", l->torch);
    const char *sep = "";
    for (size_t i = 0; i < l->n_args; i++) {
        if (!ir_loss_arg_differs(&t->loss, i))
            continue;
        const HyperInfo *h = &ir_hypers[l->args[i].hp];
        fprintf(f, "%s%s=", sep, h->torch);
        py_put_double(f, t->loss.hyper[l->args[i].hp]);
        sep = ", ";
    }
    fputc(')', f);
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
        put_hyper(f, h, o->hyper[h]);
    }
    fputs("):\n    \"\"\"The train block's optimizer; a sweep passes its value by name.\"\"\"\n"
          "    return ", f);
    put_optimizer_call(f, info);
    fputs("\n\n\n", f);
}

/* What make_scheduler's docstring says of each schedule: the closed form
 * of ir_schedule_lr that the torch.optim.lr_scheduler classes reproduce. */
static const char *schedule_doc(ScheduleKind k)
{
    switch (k) {
    case SCHED_CONSTANT:
        return "constant: the optimizer's lr in every epoch, nothing to step.";
    case SCHED_STEP:
        return "step(every, gamma): lr * gamma ** (e // every) in epoch e (0-based).";
    case SCHED_EXPONENTIAL:
        return "exponential(gamma): lr * gamma ** e in epoch e (0-based).";
    case SCHED_COSINE:
        return "cosine(warmup, min_lr): lr * (e + 1) / warmup in epoch e < warmup (a\n"
               "    LinearLR), then CosineAnnealingLR from lr down to min_lr over the\n"
               "    other epochs (SequentialLR runs one, then the other).";
    }
    return "";
}

/* The torch scheduler built from the table row's arguments, each passed
 * under its torch keyword: StepLR(optimizer, step_size=every, gamma=gamma). */
static void put_scheduler_call(FILE *f, const ScheduleInfo *info)
{
    fprintf(f, "    return torch.optim.lr_scheduler.%s(optimizer", info->torch);
    for (size_t i = 0; i < info->n_args; i++) {
        const HyperInfo *h = &ir_hypers[info->args[i].hp];
        fprintf(f, ", %s=%s", h->torch, h->name);
    }
    fputs(")\n", f);
}

/* cosine: CosineAnnealingLR alone without a warm-up, else after a LinearLR
 * that reaches lr in epoch warmup - 1. T_max is at least 1 because
 * --epochs may cut a run to its warm-up, as ir_schedule_lr allows. */
static void put_cosine(FILE *f)
{
    const char *w = ir_hypers[HP_WARMUP].name, *m = ir_hypers[HP_MIN_LR].name;
    fprintf(f, "    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(\n"
               "        optimizer, T_max=max(epochs - %s, 1), %s=%s)\n"
               "    if %s == 0:\n"
               "        return cosine\n", w, ir_hypers[HP_MIN_LR].torch, m, w);
    fputs("    # SequentialLR steps CosineAnnealingLR with an epoch argument at the\n"
          "    # milestone, which torch then warns is deprecated (pytorch/pytorch#76113).\n"
          "    warnings.filterwarnings(\"ignore\", \"The epoch parameter in `scheduler.step\",\n"
          "                            UserWarning, \"torch.optim.lr_scheduler\")\n", f);
    fprintf(f, "    warm = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / %s,\n"
               "                                             total_iters=%s - 1)\n"
               "    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warm, cosine],\n"
               "                                                 milestones=[%s])\n", w, w, w);
}

/* make_scheduler(optimizer, epochs, ARGS): the schedule of the train block
 * (SCHED_CONSTANT when it names none), its arguments defaulting to the
 * block's values so that a sweep can pass one by name. */
static void put_scheduler(FILE *f, const IrSchedule *s)
{
    const ScheduleInfo *info = &ir_schedules[s->kind];
    fputs("def make_scheduler(optimizer, epochs", f);
    for (size_t i = 0; i < info->n_args; i++) {
        HyperParam h = info->args[i].hp;
        fprintf(f, ", %s=", ir_hypers[h].name);
        put_hyper(f, h, s->hyper[h]);
    }
    fprintf(f, "):\n    \"\"\"The train block's schedule, stepped after every epoch; a sweep passes\n"
               "    its value by name.\n\n    %s\n    \"\"\"\n", schedule_doc(s->kind));
    switch (s->kind) {
    case SCHED_CONSTANT:
        fputs("    return None\n", f);
        break;
    case SCHED_STEP:
    case SCHED_EXPONENTIAL:
        put_scheduler_call(f, info);
        break;
    case SCHED_COSINE:
        put_cosine(f);
        break;
    }
    fputs("\n\n", f);
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
    if (k->train->loss.kind == LOSS_CROSS_ENTROPY)
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
    "def make_loader(x, y, batch, seed, rank, world):\n"
    "    \"\"\"(sampler, loader): this process's share of every global batch. The\n"
    "    DistributedSampler shuffles only for mini-batches, as nnc does.\"\"\"\n"
    "    rows = TensorDataset(x, targets(y))\n"
    "    sampler = DistributedSampler(rows, num_replicas=world, rank=rank,\n"
    "                                 shuffle=batch < len(rows), seed=seed)\n"
    "    return sampler, DataLoader(rows, batch_size=max(batch // world, 1), sampler=sampler)\n"
    "\n"
    "\n"
    "def train_epoch(model, net, loader, optimizer, loss_fn, world):\n"
    "    \"\"\"One pass over the data; returns the mean loss over the epoch's rows on\n"
    "    all processes. DistributedDataParallel has averaged the gradients when\n"
    "    backward returns, so every process clips (CLIP_GRAD) the same gradients.\"\"\"\n"
    "    total = torch.zeros(2, dtype=torch.float64)  # sum of loss * rows, rows\n"
    "    for xb, yb in loader:\n"
    "        optimizer.zero_grad()\n"
    "        loss = loss_fn(net(xb), yb)\n"
    "        loss.backward()\n"
    "        if CLIP_GRAD is not None:\n"
    "            nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRAD)\n"
    "        optimizer.step()\n"
    "        total += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64)\n"
    "    if world > 1:\n"
    "        dist.all_reduce(total)\n"
    "    return (total[0] / total[1]).item()\n"
    "\n"
    "\n"
    "class Watch:\n"
    "    \"\"\"Validation's bookkeeping, as nnc keeps it: the best epoch (the lowest\n"
    "    validation loss so far) and, with EARLY_STOP, a copy of its weights.\"\"\"\n"
    "\n"
    "    def __init__(self):\n"
    "        self.best_epoch, self.best_loss, self.best_state = 0, math.inf, None\n"
    "\n"
    "    def verdict(self, epoch, loss):\n"
    "        \"\"\"(better, stop) after epoch's validation loss: stop after EARLY_STOP\n"
    "        epochs without a lower loss.\"\"\"\n"
    "        better = self.best_epoch == 0 or loss < self.best_loss\n"
    "        return better, not better and 0 < EARLY_STOP <= epoch - self.best_epoch\n"
    "\n"
    "    def keep(self, model, epoch, loss):\n"
    "        self.best_epoch, self.best_loss = epoch, loss\n"
    "        if EARLY_STOP > 0:\n"
    "            self.best_state = copy.deepcopy(model.state_dict())\n"
    "\n"
    "\n"
    "def validate(model, valid, loss_fn, watch, epoch, rank, world):\n"
    "    \"\"\"The epoch's validation: (loss, score, whether the score is an mse rather\n"
    "    than an accuracy, stop). Rank 0 evaluates every row in eval mode (no\n"
    "    dropout) without gradients, as nnc does, and decides; the broadcast gives\n"
    "    every process its numbers and its decision, so all stop at the same epoch\n"
    "    and keep the same weights.\"\"\"\n"
    "    v = torch.zeros(5, dtype=torch.float64)  # loss, score, mse, better, stop\n"
    "    if rank == 0:\n"
    "        x, y = valid\n"
    "        model.eval()\n"
    "        with torch.no_grad():\n"
    "            out = model(x)\n"
    "            loss = loss_fn(out, targets(y)).item()\n"
    "        model.train()\n"
    "        result = score(out, y)\n"
    "        mse = isinstance(result, float)\n"
    "        v = torch.tensor([loss, result if mse else result[0] / result[1], mse,\n"
    "                          *watch.verdict(epoch, loss)], dtype=torch.float64)\n"
    "    if world > 1:\n"
    "        dist.broadcast(v, 0)\n"
    "    loss, metric, mse, better, stop = v.tolist()\n"
    "    if better:\n"
    "        watch.keep(model, epoch, loss)\n"
    "    return loss, metric, bool(mse), bool(stop)\n"
    "\n"
    "\n"
    "def epoch_line(epoch, epochs, loss, lr, valid):\n"
    "    \"\"\"nnc's loss line:\n"
    "    \"epoch  3/40  loss 0.2345678  lr 0.003  valid loss 0.25  acc 91.2%\".\"\"\"\n"
    "    line = f\"epoch {epoch:{len(str(epochs))}}/{epochs}  loss {loss:.7g}\"\n"
    "    if SHOW_LR:\n"
    "        line += f\"  lr {lr:.6g}\"\n"
    "    if valid is not None:\n"
    "        vloss, metric, mse, _ = valid\n"
    "        line += f\"  valid loss {vloss:.7g}  \"\n"
    "        line += f\"mse {metric:.6g}\" if mse else f\"acc {100 * metric:.1f}%\"\n"
    "    return line\n"
    "\n"
    "\n"
    "def finish_validation(model, watch, epoch, epochs, stop, rank):\n"
    "    \"\"\"With EARLY_STOP, back to the weights of the best epoch; nnc's report of\n"
    "    which epoch was best and why the run ended.\"\"\"\n"
    "    if watch.best_state is not None:\n"
    "        model.load_state_dict(watch.best_state)\n"
    "    if rank != 0:\n"
    "        return\n"
    "    name = type(model).__name__\n"
    "    if stop and epoch < epochs:\n"
    "        print(f\"early stop at epoch {epoch}: no lower validation loss for \"\n"
    "              f\"{EARLY_STOP} epochs\")\n"
    "    if EARLY_STOP > 0:\n"
    "        print(f\"best epoch {watch.best_epoch} (validation loss {watch.best_loss:.7g}): \"\n"
    "              f\"{name} keeps its weights\")\n"
    "    else:\n"
    "        print(f\"lowest validation loss {watch.best_loss:.7g} at epoch {watch.best_epoch}; \"\n"
    "              f\"{name} keeps the last epoch's weights (early_stop keeps the best)\")\n"
    "\n"
    "\n"
    "def train_run(model, x, y, valid, run, seed, rank, world):\n"
    "    \"\"\"One training from the model's current weights with a fresh optimizer\n"
    "    and schedule (stepped once per epoch). Each process takes its share of\n"
    "    every global batch; DistributedDataParallel averages the gradients, so a\n"
    "    step sees the whole batch. Returns (the last epoch's loss, the lowest\n"
    "    validation loss or None); the loss is nan when the run diverged.\"\"\"\n"
    "    _, epochs, batch, optim_args, schedule_args = run\n"
    "    torch.manual_seed(seed + rank)  # dropout masks differ between processes\n"
    "    sampler, loader = make_loader(x, y, batch, seed, rank, world)\n"
    "    net = DistributedDataParallel(model) if world > 1 else model\n"
    "    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad],\n"
    "                               **optim_args)\n"
    "    scheduler = make_scheduler(optimizer, epochs, **schedule_args)\n"
    "    loss_fn = make_loss()\n"
    "    watch, every, v, stop = Watch(), log_interval(epochs), None, False\n"
    "    model.train()\n"
    "    for epoch in range(1, epochs + 1):\n"
    "        sampler.set_epoch(epoch)\n"
    "        lr = optimizer.param_groups[0][\"lr\"]\n"
    "        loss = train_epoch(model, net, loader, optimizer, loss_fn, world)\n"
    "        if not math.isfinite(loss):\n"
    "            if rank == 0:\n"
    "                print(f\"diverged at epoch {epoch}: the loss became {loss}\")\n"
    "            return math.nan, None\n"
    "        if valid is not None:\n"
    "            v = validate(model, valid, loss_fn, watch, epoch, rank, world)\n"
    "            stop = v[-1]  # rank 0's decision, the same on every process\n"
    "        if rank == 0 and (epoch == 1 or epoch == epochs or epoch % every == 0 or stop):\n"
    "            print(epoch_line(epoch, epochs, loss, lr, v), flush=True)\n"
    "        if scheduler is not None:\n"
    "            scheduler.step()\n"
    "        if stop:\n"
    "            break\n"
    "    if valid is None:\n"
    "        return loss, None\n"
    "    finish_validation(model, watch, epoch, epochs, stop, rank)\n"
    "    return loss, watch.best_loss\n"
    "\n"
    "\n"
    "def sweep_runs(epochs, rows):\n"
    "    \"\"\"(label, epochs, batch, optimizer arguments, schedule arguments) of each\n"
    "    run; a swept value goes to make_optimizer or make_scheduler by its name.\"\"\"\n"
    "    if SWEEP is None:\n"
    "        return [(\"\", epochs, BATCH, {}, {})]\n"
    "    param, values = SWEEP\n"
    "    runs = []\n"
    "    for v in values:\n"
    "        run_epochs, batch, optim_args, schedule_args = epochs, BATCH, {}, {}\n"
    "        if param == \"epochs\":\n"
    "            run_epochs = int(v)\n"
    "        elif param == \"batch\":\n"
    "            batch = int(v) if 1 <= v <= rows else rows\n"
    "        elif param in inspect.signature(make_scheduler).parameters:\n"
    "            schedule_args[param] = v\n"
    "        else:\n"
    "            optim_args[param] = v\n"
    "        runs.append((f\"{param}={v:g}\", run_epochs, batch, optim_args, schedule_args))\n"
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
    "    \"\"\"Every run of the train block; the model keeps the weights of the best run\n"
    "    (the lowest validation loss with VALIDATE, else the lowest final loss, as\n"
    "    nnc keeps it for a sweep). False when all diverged.\"\"\"\n"
    "    x, y = data.load(TRAIN_DATA, args.data_root)\n"
    "    valid = None if VALIDATE is None else data.load(VALIDATE, args.data_root)\n"
    "    if not any(p.requires_grad for p in model.parameters()):\n"
    "        if rank == 0:\n"
    "            print(\"nothing to train: every layer is frozen\")\n"
    "        return True\n"
    "    if rank == 0:\n"
    "        print(f\"train {type(model).__name__} on {TRAIN_DATA}: {len(x)} rows, batch {BATCH} \"\n"
    "              f\"({max(BATCH // world, 1)} per process), {world} process(es), seed {args.seed}\"\n"
    "              + (f\", validate on {VALIDATE} ({len(valid[0])} rows)\" if valid else \"\")\n"
    "              + (f\", early_stop {EARLY_STOP}\" if valid and EARLY_STOP > 0 else \"\"))\n"
    "        if BATCH % world:\n"
    "            print(f\"note: batch {BATCH} is not a multiple of {world} processes\")\n"
    "    initial, best, start = copy.deepcopy(model.state_dict()), None, time.time()\n"
    "    for run in sweep_runs(args.epochs, len(x)):\n"
    "        label = run[0]\n"
    "        model.load_state_dict(initial)\n"
    "        if rank == 0 and label:\n"
    "            print(f\"run {label}\")\n"
    "        loss, valid_loss = train_run(model, x, y, valid, run, args.seed, rank, world)\n"
    "        if not math.isfinite(loss):\n"
    "            continue\n"
    "        if rank == 0 and label:\n"
    "            save(model, run_path(args.save, label))\n"
    "        rank_by = loss if valid_loss is None else valid_loss\n"
    "        if best is None or rank_by < best[0]:\n"
    "            best = (rank_by, loss, label, copy.deepcopy(model.state_dict()))\n"
    "    if best is None:\n"
    "        model.load_state_dict(initial)\n"
    "        return False\n"
    "    model.load_state_dict(best[3])\n"
    "    if rank == 0:\n"
    "        by = \"validation\" if valid else \"final\"\n"
    "        kept = f\", kept the run {best[2]} (the lowest {by} loss)\" if best[2] else \"\"\n"
    "        print(f\"trained in {time.time() - start:.2f} s: final loss {best[1]:.7g}{kept}\")\n"
    "        save(model, args.save)\n"
    "    return True\n"
    "\n"
    "\n"
    ;

/* score(): the part of the loop whose binary rule depends on the model
 * (ir_binary_threshold: > 0.5 on a probability, > 0 on a logit). */
static void put_score(FILE *f, const IrModel *m)
{
    bool logit = ir_binary_threshold(m) == 0.0f;
    fputs("def score(out, y):\n"
          "    \"\"\"nnc's verdict: (correct, rows) for a classifier, else the mean squared\n"
          "    error. One column of labels on several outputs: the argmax; 0/1 targets:\n", f);
    fputs(logit ? "    one-hot rows by argmax, otherwise each output (a logit) > 0.\"\"\"\n"
                : "    one-hot rows by argmax, otherwise each output > 0.5.\"\"\"\n", f);
    fputs("    if y.shape[1] == 1 and out.shape[1] > 1:\n"
          "        return int((out.argmax(1) == y[:, 0].long()).sum()), len(y)\n"
          "    if not ((y == 0) | (y == 1)).all():\n"
          "        return float(((out.double() - y.double()) ** 2).mean())\n"
          "    if out.shape[1] > 1 and (y.sum(1) == 1).all():\n"
          "        return int((out.argmax(1) == y.argmax(1)).sum()), len(y)\n", f);
    fprintf(f, "    return int(((out > %s) == (y == 1)).all(1).sum()), len(y)\n\n\n",
            logit ? "0" : "0.5");
}

/* After score(): evaluation, the same for every model. */
static const char eval_code[] =
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
    if (k->train && k->train->schedule.kind == SCHED_COSINE)
        fputs("import warnings\n", f);
    fputs(torch_imports, f);
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
        put_scheduler(f, &k->train->schedule);
        put_targets(f, k);
    }
    fputs(loop_code, f);
    put_score(f, k->m);
    fputs(eval_code, f);
    fputs(main_head, f);
    fprintf(f, "    model = %s()\n", k->class_name);
    fputs(main_tail, f);
}
