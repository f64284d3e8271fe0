/* data.py of the PyTorch package: the datasets the model's train and
 * evaluate blocks read, rebuilt as lower_data.c builds them: inline values
 * or a CSV file read by csv.c's rules, then scale, the seeded split (the
 * same xoroshiro128+ shuffle) and normalize with the training rows'
 * statistics, in float32. Helpers are written only when a dataset uses them. */
#include <string.h>

#include "pytorch.h"

static const char csv_reader[] =
    "# The decimal syntax nnc's CSV reader accepts: no nan, inf, hex or '_'.\n"
    "NUMBER = re.compile(r\"[+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?\")\n"
    "# A character no number, separator or blank of that syntax has.\n"
    "UNUSUAL = re.compile(r\"[^0-9eE+\\-., \\t]\")\n"
    "\n"
    "\n"
    "def to_float32(d, text_at):\n"
    "    \"\"\"d, each decimal text correctly rounded to float64, as float32 correctly\n"
    "    rounded from the texts, as nnc reads them. The two roundings differ only\n"
    "    when the float64 lands exactly halfway between two float32s; those few are\n"
    "    decided exactly from text_at(row, col).\"\"\"\n"
    "    with np.errstate(over=\"ignore\"):\n"
    "        f = d.astype(np.float32)\n"
    "    back = f.astype(np.float64)\n"
    "    toward = np.where(d > back, np.inf, -np.inf).astype(np.float32)\n"
    "    other = np.nextafter(f, toward)\n"
    "    for r, c in zip(*np.nonzero((back != d) & ((back + other) / 2 == d))):\n"
    "        exact, half = Fraction(text_at(r, c)), Fraction(d[r, c])\n"
    "        if exact != half:\n"
    "            f[r, c] = max(f[r, c], other[r, c]) if exact > half else min(f[r, c], other[r, c])\n"
    "    return f\n"
    "\n"
    "\n"
    "def read_lines(path):\n"
    "    \"\"\"The file's lines without their ends (\\n or \\r\\n) or a UTF-8 byte-order mark.\"\"\"\n"
    "    with open(path, \"rb\") as f:\n"
    "        text = f.read().decode(\"latin-1\")\n"
    "    if text.startswith(\"\\xef\\xbb\\xbf\"):\n"
    "        text = text[3:]\n"
    "    return [line[:-1] if line.endswith(\"\\r\") else line for line in text.split(\"\\n\")]\n"
    "\n"
    "\n"
    "def fields_of(line):\n"
    "    return [field.strip(\" \\t\") for field in line.split(\",\")]\n"
    "\n"
    "\n"
    "def header_lines(lines, header):\n"
    "    \"\"\"1 when the first line is a header (header True, or header None and one\n"
    "    of its fields is not a number), else 0.\"\"\"\n"
    "    first = fields_of(lines[0])\n"
    "    return int(bool(header or (header is None and any(s and not NUMBER.fullmatch(s)\n"
    "                                                      for s in first))))\n"
    "\n"
    "\n"
    "def parse_exact(path, lines, skip, width):\n"
    "    \"\"\"The rows field by field, by nnc's rules: spaces and tabs around fields\n"
    "    ignored, blank lines only at the end, every row as long as the first.\n"
    "    Raises ValueError naming the line of the first problem.\"\"\"\n"
    "    rows, blank = [], None\n"
    "    for number, line in enumerate(lines[skip:], skip + 1):\n"
    "        if not line.strip(\" \\t\"):\n"
    "            blank = blank or number\n"
    "            continue\n"
    "        if blank:\n"
    "            raise ValueError(f\"{path}:{blank}: blank line; blank lines are allowed only at the end\")\n"
    "        fields = fields_of(line)\n"
    "        if len(fields) != width:\n"
    "            raise ValueError(f\"{path}:{number}: {len(fields)} fields, expected {width}\")\n"
    "        for s in fields:\n"
    "            if not NUMBER.fullmatch(s):\n"
    "                raise ValueError(f\"{path}:{number}: '{s}' is not a number\")\n"
    "        rows.append(fields)\n"
    "    d = np.array([[float(s) for s in row] for row in rows], dtype=np.float64)\n"
    "    return to_float32(d.reshape(len(rows), width), lambda r, c: rows[r][c])\n"
    "\n"
    "\n"
    "def parse_fast(lines, skip, width):\n"
    "    \"\"\"All rows at once with NumPy's C parser (strtod: correctly rounded), or\n"
    "    None when any line looks unusual; parse_exact then finds the problem.\"\"\"\n"
    "    body = lines[skip:]\n"
    "    while body and not body[-1].strip(\" \\t\"):\n"
    "        body.pop()\n"
    "    if not body or any(line.count(\",\") != width - 1 for line in body):\n"
    "        return None\n"
    "    text = \",\".join(body)\n"
    "    if UNUSUAL.search(text):\n"
    "        return None\n"
    "    with warnings.catch_warnings():\n"
    "        warnings.simplefilter(\"ignore\")  # a field it cannot read ends the array early\n"
    "        d = np.fromstring(text, dtype=np.float64, sep=\",\")\n"
    "    if d.size != len(body) * width:\n"
    "        return None\n"
    "    return to_float32(d.reshape(len(body), width),\n"
    "                      lambda r, c: fields_of(body[r])[c])\n"
    "\n"
    "\n"
    "def read_table(path, header):\n"
    "    \"\"\"The data rows of a CSV file as a float32 array, read as nnc reads it:\n"
    "    the fast path when every line is plain, else field by field.\"\"\"\n"
    "    lines = read_lines(path)\n"
    "    skip = header_lines(lines, header) if lines[0].strip(\" \\t\") else 0\n"
    "    width = len(fields_of(lines[0]))\n"
    "    table = parse_fast(lines, skip, width)\n"
    "    if table is None:\n"
    "        table = parse_exact(path, lines, skip, width)\n"
    "    if len(table) == 0:\n"
    "        raise ValueError(f\"{path}: no data rows\")\n"
    "    return table\n"
    "\n"
    "def read_csv(path, header=None, target=-1, classes=None):\n"
    "    \"\"\"(x, y) from a CSV file: y is the target column (-1: the last), x the\n"
    "    other columns, both float32.\"\"\"\n"
    "    table = read_table(path, header)\n"
    "    if np.isinf(table).any():\n"
    "        raise ValueError(f\"{path}: a value is out of the range of a 32-bit float\")\n"
    "    cols = table.shape[1]\n"
    "    col = cols - 1 if target == -1 else target\n"
    "    if cols < 2 or not 0 <= col < cols:\n"
    "        raise ValueError(f\"{path}: target column {target} does not fit {cols} columns\")\n"
    "    y = table[:, col:col + 1]\n"
    "    if classes and ((y != np.floor(y)) | (y < 0) | (y >= classes)).any():\n"
    "        raise ValueError(f\"{path}: a label is not an integer in 0..{classes - 1}\")\n"
    "    return np.delete(table, col, axis=1), y\n"
    "\n"
    "\n";

static const char split_code[] =
    "MASK64 = (1 << 64) - 1\n"
    "\n"
    "\n"
    "def splitmix64(state):\n"
    "    \"\"\"One step of splitmix64: (the next state, the output).\"\"\"\n"
    "    state = (state + 0x9E3779B97F4A7C15) & MASK64\n"
    "    z = state\n"
    "    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64\n"
    "    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64\n"
    "    return state, z ^ (z >> 31)\n"
    "\n"
    "\n"
    "def rotl(x, k):\n"
    "    return ((x << k) & MASK64) | (x >> (64 - k))\n"
    "\n"
    "\n"
    "class Xoroshiro128Plus:\n"
    "    \"\"\"The generator of nnc's split shuffle (src/front/lower_data.c), bit for\n"
    "    bit, so that every machine puts the same rows in NAME.train.\"\"\"\n"
    "\n"
    "    def __init__(self, seed):\n"
    "        seed, self.s0 = splitmix64(seed)\n"
    "        seed, self.s1 = splitmix64(seed)\n"
    "\n"
    "    def next(self):\n"
    "        s0, s1 = self.s0, self.s1\n"
    "        result = (s0 + s1) & MASK64\n"
    "        s1 ^= s0\n"
    "        self.s0 = rotl(s0, 24) ^ s1 ^ ((s1 << 16) & MASK64)\n"
    "        self.s1 = rotl(s1, 37)\n"
    "        return result\n"
    "\n"
    "    def below(self, bound):\n"
    "        \"\"\"Uniform in [0, bound) without modulo bias.\"\"\"\n"
    "        threshold = ((1 << 64) - bound) % bound\n"
    "        while True:\n"
    "            x = self.next()\n"
    "            if x >= threshold:\n"
    "                return x % bound\n"
    "\n"
    "\n"
    "def split_rows(name, x, y, split, seed):\n"
    "    \"\"\"NAME.train and NAME.test, and NAME.valid when split is the pair (train,\n"
    "    valid) of split = [train, valid, test]: the rows shuffled (Fisher-Yates\n"
    "    from the last row down), then the first round(rows * train) to train, the\n"
    "    next round(rows * valid) to valid, the rest to test.\"\"\"\n"
    "    rows = len(x)\n"
    "    fractions = split if isinstance(split, tuple) else (split,)\n"
    "    names = (\"train\", \"valid\", \"test\") if len(fractions) == 2 else (\"train\", \"test\")\n"
    "    sizes = [math.floor(rows * f + 0.5) for f in fractions]\n"
    "    sizes.append(rows - sum(sizes))\n"
    "    for part, n in zip(names, sizes):\n"
    "        if n <= 0:\n"
    "            raise ValueError(f\"dataset {name}: split {split} of {rows} rows leaves the \"\n"
    "                             f\"{part} part empty\")\n"
    "    rng = Xoroshiro128Plus(seed)\n"
    "    order = list(range(rows))\n"
    "    for i in range(rows - 1, 0, -1):\n"
    "        j = rng.below(i + 1)\n"
    "        order[i], order[j] = order[j], order[i]\n"
    "    x = x[order]\n"
    "    y = None if y is None else y[order]\n"
    "    parts, start = {}, 0\n"
    "    for part, n in zip(names, sizes):\n"
    "        rows_of = slice(start, start + n)\n"
    "        parts[f\"{name}.{part}\"] = (x[rows_of], None if y is None else y[rows_of])\n"
    "        start += n\n"
    "    return parts\n"
    "\n"
    "\n";

static const char normalize_code[] =
    "def norm_stats(x, how):\n"
    "    \"\"\"Per column (shift, div): the minimum and max - min (minmax), or the mean\n"
    "    and the standard deviation (standard), summed row by row in float64 as nnc\n"
    "    does (cumsum keeps that order; sum would not).\"\"\"\n"
    "    v = x.astype(np.float64)\n"
    "    if how == \"minmax\":\n"
    "        return v.min(axis=0), v.max(axis=0) - v.min(axis=0)\n"
    "    mean = np.cumsum(v, axis=0)[-1] / len(v)\n"
    "    return mean, np.sqrt(np.cumsum((v - mean) ** 2, axis=0)[-1] / len(v))\n"
    "\n"
    "\n"
    "def norm_apply(x, shift, div):\n"
    "    \"\"\"(x - shift) / div per column; a constant column (div 0) becomes 0.\"\"\"\n"
    "    out = np.zeros(x.shape)\n"
    "    np.divide(x.astype(np.float64) - shift, div, out=out, where=div > 0)\n"
    "    return out.astype(np.float32)\n"
    "\n"
    "\n";

static const char prepare_code[] =
    "def prepare(name, x, y, scale=None, split=None, seed=0, normalize=None):\n"
    "    \"\"\"scale, split and normalize in nnc's order. Returns {name: (x, y)} and,\n"
    "    with a split, NAME.train and NAME.test; normalize uses the statistics of\n"
    "    the training rows only, so nothing about the test rows leaks into training.\"\"\"\n"
    "    x = np.array(x, dtype=np.float32).reshape(len(x), -1)\n"
    "    y = None if y is None else np.array(y, dtype=np.float32).reshape(len(x), -1)\n"
    "    if scale is not None:\n"
    "        x = (x.astype(np.float64) * scale).astype(np.float32)\n"
    "        if not np.isfinite(x).all():\n"
    "            raise ValueError(f\"dataset {name}: scale makes x overflow a float\")\n"
    "    parts = {name: (x, y)}\n"
    "    if split is not None:\n"
    "        parts.update(split_rows(name, x, y, split, seed))\n"
    "    if normalize is not None:\n"
    "        rows = parts[name + \".train\"][0] if split is not None else x\n"
    "        shift, div = norm_stats(rows, normalize)\n"
    "        parts = {k: (norm_apply(px, shift, div), py) for k, (px, py) in parts.items()}\n"
    "    return parts\n"
    "\n"
    "\n";

typedef struct DataNeeds {
    bool csv, split, normalize;
} DataNeeds;

static DataNeeds data_needs(const PyPackage *k)
{
    DataNeeds n = {false, false, false};
    for (size_t i = 0; i < k->n_sources; i++) {
        n.csv |= k->sources[i]->csv != NULL;
        n.split |= k->sources[i]->has_split;
        n.normalize |= k->sources[i]->normalize != NORM_NONE;
    }
    return n;
}

static void data_header(FILE *f, const PyPackage *k, DataNeeds n)
{
    fprintf(f, "\"\"\"The datasets %s trains and evaluates %s on, built as nnc builds\n",
            k->source_base, k->m->name);
    fputs("them (written by nnc, --target pytorch). load(\"NAME\") returns float32 tensors\n"
          "(x, y); a split dataset also has NAME.train and NAME.test.\n\"\"\"\n", f);
    if (n.csv)
        fputs("from fractions import Fraction\n", f);
    fputs("import functools\n", f);
    if (n.split)
        fputs("import math\n", f);
    fputs("import os\n", f);
    if (n.csv)
        fputs("import re\nimport warnings\n", f);
    fputs("\nimport numpy as np\nimport torch\n\n", f);
    fputs("# The folder of the .nn file when the package was written: csv paths are\n"
          "# relative to it. Elsewhere, pass --data-root to train.py.\n", f);
    fputs("DATA_ROOT = ", f);
    py_put_string(f, k->data_root);
    fputs("\n", f);
}

static const char *norm_name(DataNorm n)
{
    return n == NORM_STANDARD ? "standard" : "minmax";
}

/* The one-line summary of a dataset block, for its loader's docstring. */
static void put_summary(FILE *f, const IrDataSource *s)
{
    fprintf(f, "    \"\"\"dataset %s: ", s->name);
    if (s->csv) {
        fprintf(f, "csv \"%s\", target ", s->csv);
        if (s->target < 0)
            fputs("last", f);
        else
            fprintf(f, "%ld", s->target);
    } else {
        fprintf(f, "%zu inline rows", s->rows);
    }
    if (s->classes)
        fprintf(f, ", classes %d", s->classes);
    if (s->has_scale)
        fputs(", scale", f);
    if (s->has_split)
        fprintf(f, ", split (seed %llu)", (unsigned long long)s->seed);
    if (s->normalize != NORM_NONE)
        fprintf(f, ", normalize %s", norm_name(s->normalize));
    fputs(".\"\"\"\n", f);
}

static void put_prepare_args(FILE *f, const IrDataSource *s)
{
    if (s->has_scale) {
        fputs(", scale=", f);
        py_put_double(f, s->scale);
    }
    if (s->has_split) {
        fputs(", split=", f);
        if (s->split_valid > 0) /* split = [train, valid, test]: test takes the rest */
            fputc('(', f);
        py_put_double(f, s->split);
        if (s->split_valid > 0) {
            fputs(", ", f);
            py_put_double(f, s->split_valid);
            fputc(')', f);
        }
        fprintf(f, ", seed=%llu", (unsigned long long)s->seed);
    }
    if (s->normalize != NORM_NONE)
        fprintf(f, ", normalize=\"%s\"", norm_name(s->normalize));
}

static void put_csv_read(FILE *f, const IrDataSource *s)
{
    fputs("    x, y = read_csv(os.path.join(data_root, ", f);
    py_put_string(f, s->csv);
    fprintf(f, "), header=%s, target=%ld", s->header < 0 ? "None" : s->header ? "True" : "False",
            s->target);
    if (s->classes)
        fprintf(f, ", classes=%d", s->classes);
    fputs(")\n", f);
}

static void put_inline(FILE *f, const IrDataSource *s)
{
    fputs("    x = ", f);
    py_put_matrix(f, s->raw_x, s->rows, s->x_cols, false, "       ");
    fputs("\n    y = ", f);
    if (s->raw_y)
        py_put_matrix(f, s->raw_y, s->rows, s->y_cols, s->y_cols == 1, "       ");
    else
        fputs("None", f);
    fputc('\n', f);
}

static void put_loader(FILE *f, const IrDataSource *s)
{
    fprintf(f, "@functools.lru_cache(maxsize=None)\ndef load_%s(data_root):\n", s->name);
    put_summary(f, s);
    if (s->csv)
        put_csv_read(f, s);
    else
        put_inline(f, s);
    fprintf(f, "    return prepare(\"%s\", x, y", s->name);
    put_prepare_args(f, s);
    fputs(")\n\n\n", f);
}

static const char load_code[] =
    "def load(name, data_root=DATA_ROOT):\n"
    "    \"\"\"The dataset name (\"digits.train\" for a split part) as float32 tensors\n"
    "    (x, y): x is [rows, *INPUT_SHAPE], each row's features in row-major order\n"
    "    (what x.view(-1, *INPUT_SHAPE) gives), y is [rows, targets] or None.\"\"\"\n"
    "    x, y = LOADERS[name.split(\".\")[0]](data_root)[name]\n"
    "    x = torch.from_numpy(x.copy()).reshape(len(x), *INPUT_SHAPE)\n"
    "    return x, None if y is None else torch.from_numpy(y.copy())\n";

/* The model's input per row: a CSV row's features become [C, L] or
 * [C, H, W] (channels first) for a model whose input is a tensor. */
static void put_input_shape(FILE *f, const IrModel *m)
{
    const IrShape *sh = &m->nodes[0].shape;
    fputs("\n# One row of x as the model reads it: its features in row-major order.\n"
          "INPUT_SHAPE = (", f);
    for (size_t d = 0; d < sh->rank; d++)
        fprintf(f, "%s%zu", d ? ", " : "", sh->dim[d]);
    fputs(sh->rank == 1 ? ",)\n\n\n" : ")\n\n\n", f);
}

void py_write_data(FILE *f, const PyPackage *k)
{
    DataNeeds n = data_needs(k);
    data_header(f, k, n);
    put_input_shape(f, k->m);
    if (n.csv)
        fputs(csv_reader, f);
    if (n.split)
        fputs(split_code, f);
    if (n.normalize)
        fputs(normalize_code, f);
    fputs(prepare_code, f);
    for (size_t i = 0; i < k->n_sources; i++)
        put_loader(f, k->sources[i]);
    fputs("LOADERS = {", f);
    for (size_t i = 0; i < k->n_sources; i++)
        fprintf(f, "%s\"%s\": load_%s", i ? ", " : "", k->sources[i]->name, k->sources[i]->name);
    fputs("}\n\n\n", f);
    fputs(load_code, f);
}
