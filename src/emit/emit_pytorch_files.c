/* The smaller files of the PyTorch package: safetensors_io.py (torch 1.13
 * has no safetensors module and PyPI may be out of reach, so the package
 * reads and writes the format itself), README.md and __init__.py. */
#include <string.h>

#include "pytorch.h"

static const char safetensors_io[] =
    "\"\"\"safetensors files without the safetensors package (written by nnc).\n"
    "\n"
    "The format: an 8-byte little-endian header size, a JSON header mapping each\n"
    "tensor name to its dtype, shape and data_offsets [begin, end) in the data\n"
    "that follows, then the raw little-endian bytes. Only float32 (\"F32\"), the\n"
    "dtype nnc reads: `nnc run FILE --weights W` and `nnc emit FILE --weights W`\n"
    "load what save_file writes.\n"
    "\"\"\"\n"
    "import json\n"
    "import os\n"
    "import struct\n"
    "import tempfile\n"
    "\n"
    "import numpy as np\n"
    "import torch\n"
    "\n"
    "\n"
    "def save_file(tensors, path, metadata=None):\n"
    "    \"\"\"Writes {name: tensor} as float32, keys sorted, atomically: a temporary\n"
    "    file beside path renamed over it, so a crash never leaves half a file.\"\"\"\n"
    "    header, blobs, offset = {}, [], 0\n"
    "    if metadata:\n"
    "        header[\"__metadata__\"] = {str(k): str(v) for k, v in metadata.items()}\n"
    "    for name in sorted(tensors):\n"
    "        array = tensors[name].detach().cpu().to(torch.float32).numpy()\n"
    "        blob = array.astype(\"<f4\").tobytes()\n"
    "        header[name] = {\"dtype\": \"F32\", \"shape\": list(array.shape),\n"
    "                        \"data_offsets\": [offset, offset + len(blob)]}\n"
    "        blobs.append(blob)\n"
    "        offset += len(blob)\n"
    "    text = json.dumps(header, separators=(\",\", \":\")).encode()\n"
    "    text += b\" \" * (-len(text) % 8)  # the data starts 8-byte aligned\n"
    "    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=\".tmp\")\n"
    "    try:\n"
    "        with os.fdopen(fd, \"wb\") as f:\n"
    "            f.write(struct.pack(\"<Q\", len(text)))\n"
    "            f.write(text)\n"
    "            for blob in blobs:\n"
    "                f.write(blob)\n"
    "        mask = os.umask(0)\n"
    "        os.umask(mask)\n"
    "        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600\n"
    "        os.replace(tmp, path)\n"
    "    except BaseException:\n"
    "        if os.path.exists(tmp):\n"
    "            os.unlink(tmp)\n"
    "        raise\n"
    "\n"
    "\n"
    "def load_file(path):\n"
    "    \"\"\"{name: float32 tensor} from a safetensors file of F32 tensors.\"\"\"\n"
    "    with open(path, \"rb\") as f:\n"
    "        blob = f.read()\n"
    "    if len(blob) < 8:\n"
    "        raise ValueError(f\"{path}: not a safetensors file (too short)\")\n"
    "    (size,) = struct.unpack(\"<Q\", blob[:8])\n"
    "    if size > len(blob) - 8:\n"
    "        raise ValueError(f\"{path}: the header size {size} is beyond the end of the file\")\n"
    "    header = json.loads(blob[8:8 + size])\n"
    "    data = blob[8 + size:]\n"
    "    tensors = {}\n"
    "    for name, info in header.items():\n"
    "        if name == \"__metadata__\":\n"
    "            continue\n"
    "        if info[\"dtype\"] != \"F32\":\n"
    "            raise ValueError(f\"{path}: tensor {name}: dtype {info['dtype']}, expected F32\")\n"
    "        begin, end = info[\"data_offsets\"]\n"
    "        count = int(np.prod(info[\"shape\"], dtype=np.int64))\n"
    "        if not 0 <= begin <= end <= len(data) or end - begin != 4 * count:\n"
    "            raise ValueError(f\"{path}: tensor {name}: bad data_offsets {begin}, {end}\")\n"
    "        array = np.frombuffer(data, dtype=\"<f4\", count=count, offset=begin)\n"
    "        tensors[name] = torch.from_numpy(array.astype(np.float32).reshape(info[\"shape\"]))\n"
    "    return tensors\n";

void py_write_safetensors_io(FILE *f)
{
    fputs(safetensors_io, f);
}

void py_write_init(FILE *f, const PyPackage *k)
{
    fprintf(f, "\"\"\"%s from %s as a PyTorch package, written by nnc (--target pytorch).\n"
               "See README.md. train.py is a script: run it by its path.\n\"\"\"\n"
               "from .model import %s\n",
            k->m->name, k->source_base, k->class_name);
}

static void readme_files(FILE *f, const PyPackage *k)
{
    fprintf(f, "# %s, from %s\n\n", k->m->name, k->source_base);
    fprintf(f, "Written by `nnc emit %s --target pytorch -o %s`. Needs Python 3 with\n"
               "PyTorch (1.13 or later) and NumPy; nothing else.\n\n",
            k->o->source_name, k->o->dir);
    fputs("| file | what it is |\n|---|---|\n", f);
    fprintf(f, "| `model.py` | `%s`, an `nn.Module`; its attributes carry the .nn layer "
               "names, so `state_dict()` keys are nnc's weight keys. `preprocess(raw)` makes "
               "its input from raw feature rows (the training data's scale and normalize) |\n",
            k->class_name);
    fputs("| `data.py` | the datasets, built as nnc builds them (same CSV rules, same split, "
          "same normalisation) |\n", f);
    fputs("| `train.py` | the train block as a script (one process or torchrun), then the "
          "evaluate blocks |\n", f);
    fputs("| `safetensors_io.py` | reads and writes safetensors files (float32) without the "
          "safetensors package |\n", f);
    fputs("| `init.safetensors` | nnc's initial weights for the train block's seed: where "
          "`nnc run` starts, and where train.py starts |\n\n", f);
}

static bool model_has_batchnorm(const IrModel *m)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].op == OP_BATCHNORM)
            return true;
    return false;
}

static void readme_runs(FILE *f, const PyPackage *k)
{
    const char *d = k->o->dir;
    fprintf(f, "## Train\n\nOne process:\n\n    python3 %s/train.py\n\n", d);
    fprintf(f, "Several processes on this machine (DistributedDataParallel, gloo on CPUs):\n\n"
               "    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node=4 %s/train.py\n\n"
               "(torchrun 1.13 on Python 3.11 fails on its own defaults with \"'NoneType' object\n"
               "has no attribute 'get'\"; add `--redirects=0:1 --tee=0:1` there.)\n\n", d);
    fprintf(f, "Several machines: the same command on each, `--node_rank` 0 on the machine\n"
               "at `--master_addr` (it must be reachable on `--master_port` from the others):\n\n"
               "    torchrun --nnodes=2 --nproc_per_node=4 --node_rank=0 \\\n"
               "        --master_addr=10.0.0.1 --master_port=29500 %s/train.py\n"
               "    torchrun --nnodes=2 --nproc_per_node=4 --node_rank=1 \\\n"
               "        --master_addr=10.0.0.1 --master_port=29500 %s/train.py\n\n"
               "or with a rendezvous endpoint instead of ranks:\n\n"
               "    torchrun --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\\n"
               "        --rdzv_endpoint=10.0.0.1:29500 --rdzv_id=job1 %s/train.py\n\n",
            d, d, d);
    fputs("Options: `--epochs N`, `--seed N`, `--save W.safetensors` (default\n"
          "`weights.safetensors` in the current folder, written by rank 0 only),\n"
          "`--init W.safetensors` (start from these weights instead of init.safetensors),\n"
          "`--torch-init` (start from torch's own initialisation, seeded by `--seed`),\n"
          "`--data-root DIR` (the folder\n"
          "the .nn file's csv paths are relative to; the default is where the .nn file\n"
          "was when the package was written). `--epochs 0` only evaluates.\n\n", f);
    fputs("`BATCH` in train.py is the global batch: with N processes each takes\n"
          "BATCH / N rows per step and the gradients are averaged, so a step sees the\n"
          "same rows as one process would. Training starts from init.safetensors, so\n"
          "with full batches the loss lines follow `nnc run`'s (to float32 rounding);\n"
          "with mini-batches the shuffles are torch's, so the curves differ a little.\n\n",
          f);
    if (model_has_batchnorm(k->m))
        fputs("Batchnorm under torchrun normalises each process's BATCH / N rows with their\n"
              "own statistics (DistributedDataParallel's default; rank 0's running\n"
              "statistics are broadcast and saved). nn.SyncBatchNorm needs CUDA in torch\n"
              "1.13; on GPUs, nn.SyncBatchNorm.convert_sync_batchnorm(model) before\n"
              "DistributedDataParallel normalises over the global batch instead.\n\n", f);
}

/* With validate: where the numbers come from under torchrun, and which
 * weights --save writes. */
static void readme_validation(FILE *f, const PyPackage *k)
{
    const IrTrain *t = k->train;
    if (!t || !t->has_validate)
        return;
    fprintf(f, "`VALIDATE` (%s): after every epoch rank 0 computes the validation loss\n"
               "and score on all its rows and broadcasts them with its early-stopping\n"
               "decision, so every process stops at the same epoch.",
            k->prog->datasets[t->validate].name);
    if (t->early_stop > 0)
        fputs(" With `EARLY_STOP` the model\nends on (and `--save` writes) the weights of the "
              "epoch with the lowest\nvalidation loss.", f);
    fputs("\n\n", f);
}

static void readme_back(FILE *f, const PyPackage *k)
{
    const char *src = k->o->source_name;
    fprintf(f, "## Back to nnc\n\nThe saved weights are nnc's format (`--epochs 0`: evaluate\n"
               "them as they are instead of training on from them):\n\n"
               "    nnc run %s --weights weights.safetensors --epochs 0\n"
               "    nnc emit %s --weights weights.safetensors -o net.c\n\n", src, src);
    fprintf(f, "And nnc's weights load into the module:\n\n"
               "    nnc run %s --save nnc.safetensors\n"
               "    python3 -c 'import sys; sys.path.insert(0, \"%s\")\n"
               "    from model import %s; from safetensors_io import load_file\n"
               "    m = %s(); m.load_state_dict(load_file(\"nnc.safetensors\")); print(m)'\n",
            src, k->o->dir, k->class_name, k->class_name);
}

/* Inference from raw values: preprocess, then the module. */
static void readme_predict(FILE *f, const PyPackage *k)
{
    fprintf(f, "\n## Predict from raw values\n\n"
               "The model takes rows after the dataset's scale and normalize; `preprocess`\n"
               "applies them (the training data's statistics are constants in model.py) to\n"
               "raw rows of `FEATURES` numbers, as the data file holds them:\n\n"
               "    import torch\n"
               "    from model import %s, preprocess\n"
               "    from safetensors_io import load_file\n"
               "    net = %s()\n"
               "    net.load_state_dict(load_file(\"weights.safetensors\"))\n"
               "    net.eval()\n"
               "    with torch.no_grad():\n"
               "        out = net(preprocess(raw))  # raw: [N, FEATURES]\n",
            k->class_name, k->class_name);
}

void py_write_readme(FILE *f, const PyPackage *k)
{
    readme_files(f, k);
    readme_runs(f, k);
    readme_validation(f, k);
    readme_back(f, k);
    readme_predict(f, k);
}
