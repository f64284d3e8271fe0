// Tokenizes .nn files with the VS Code grammar (editors/vscode/syntaxes/
// nn.tmLanguage.json) through vscode-textmate, the library VS Code itself
// uses, and checks every token of nnc's lexical rules (docs/language.md,
// grammar/nn.l) against the scope it must get: keywords, numbers, strings,
// comments, layer kinds, activations, names, punctuation. Every character
// that is not a blank must be inside such a token, and nothing may be
// scoped invalid. Usage: node tokenize.js FILE...
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.resolve(__dirname, '../..');
const grammarPath = path.join(root, 'editors/vscode/syntaxes/nn.tmLanguage.json');

// nnc's tokens, in flex's longest-match order (grammar/nn.l).
const LEX = [
  ['space', /[ \t\r\n\f\v]+/y],
  ['comment', /#[^\n]*/y],
  ['string', /"([^"\\\n]|\\[^\n])*"/y],
  ['number', /-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?/y],
  ['ident', /[A-Za-z_][A-Za-z0-9_]*/y],
  ['punct', /[{},:=.[\]()]/y],
];

function lex(text) {
  const out = [];
  for (let at = 0; at < text.length;) {
    let best = null;
    for (const [kind, re] of LEX) {
      re.lastIndex = at;
      const m = re.exec(text);
      if (m && (!best || m[0].length > best.text.length)) best = { kind, text: m[0], start: at };
    }
    if (!best) throw new Error(`no nnc token at offset ${at}`);
    if (best.kind !== 'space') out.push(best);
    at += best.text.length;
  }
  return out;
}

const WORDS = {
  'keyword.other.declaration.nn': ['dataset', 'model', 'train', 'evaluate'],
  'keyword.other.nn': ['on', 'input', 'sweep'],
  'constant.language.boolean.nn': ['true', 'false'],
  'support.type.layer.nn': ['dense', 'dropout', 'conv1d', 'conv2d', 'maxpool1d', 'maxpool2d',
                            'avgpool1d', 'avgpool2d', 'global_avgpool', 'global_maxpool',
                            'flatten', 'batchnorm', 'add', 'concat'],
  'support.function.activation.nn': ['step', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'gelu',
                                     'silu', 'elu', 'softplus', 'hardswish', 'hardsigmoid',
                                     'softmax', 'identity'],
  'support.constant.loss.nn': ['bce', 'mse', 'cross_entropy', 'bce_logits', 'l1', 'huber'],
  'support.function.optimizer.nn': ['sgd', 'adam', 'adamw', 'rmsprop'],
  'support.function.schedule.nn': ['constant', 'exponential', 'cosine'],
  'support.constant.nn': ['last', 'first', 'minmax', 'standard'],
};
const PUNCT = {
  '=': 'keyword.operator.assignment.nn', ',': 'punctuation.separator.comma.nn',
  '.': 'punctuation.accessor.nn', ':': 'punctuation.separator.label.nn',
  '{': 'punctuation.section.block.begin.nn', '}': 'punctuation.section.block.end.nn',
  '[': 'punctuation.section.brackets.begin.nn', ']': 'punctuation.section.brackets.end.nn',
  '(': 'punctuation.section.parens.begin.nn', ')': 'punctuation.section.parens.end.nn',
};

// Every layer kind and activation of nnc's op table (src/ir/ops.c) has its
// scope: a new op without one fails here, not in a user's editor.
function checkOpTable() {
  const ops = fs.readFileSync(path.join(root, 'src/ir/ops.c'), 'utf8');
  const known = [...WORDS['support.type.layer.nn'], ...WORDS['support.function.activation.nn']];
  const missing = [...ops.matchAll(/\{OP_[A-Z0-9_]+, "([a-z0-9_]+)"/g)]
    .map((m) => m[1]).filter((n) => n !== 'input' && !known.includes(n));
  if (missing.length) console.log(`FAIL op table: no scope for ${missing.join(', ')}`);
  return missing.length === 0;
}

// The scope token i of toks must carry.
function expected(toks, i) {
  const t = toks[i], prev = toks[i - 1], next = toks[i + 1], before = toks[i - 2];
  switch (t.kind) {
    case 'comment': return 'comment.line.number-sign.nn';
    case 'string': return 'string.quoted.double.nn';
    case 'number': return 'constant.numeric.nn';
    case 'punct': return PUNCT[t.text];
  }
  if (prev && prev.text === '.') return 'variable.other.nn'; // digits.train: a part, not a keyword
  if (next && next.text === ':') return 'entity.name.label.layer.nn';
  if (next && next.text === '=') return t.text === 'sweep' ? 'keyword.other.nn' : 'variable.other.property.nn';
  if (next && next.kind === 'ident' && toks[i + 2] && toks[i + 2].text === '=' && t.text === 'sweep')
    return 'keyword.other.nn';
  if (prev && (prev.text === 'dataset' || prev.text === 'model') && !(before && before.text === '.'))
    return 'entity.name.type.nn';
  if (prev && (prev.text === 'train' || prev.text === 'evaluate') && !(before && before.text === '.'))
    return 'variable.other.model.nn';
  for (const [scope, words] of Object.entries(WORDS))
    if (words.includes(t.text)) return scope;
  return 'variable.other.nn';
}

// Line and column of every offset, for the TextMate tokens (per line).
function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

async function main() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => scope === 'source.nn'
      ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath) : null,
  });
  const grammar = await registry.loadGrammar('source.nn');
  let pass = 0, fail = 0;
  if (checkOpTable()) pass++; else fail++;
  for (const file of process.argv.slice(2)) {
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const starts = lineStarts(text);
    let stack = vsctm.INITIAL;
    const scopesAt = []; // per line: array over columns of scopes
    for (const line of lines) {
      const r = grammar.tokenizeLine(line, stack);
      const cols = [];
      for (const t of r.tokens) for (let c = t.startIndex; c < t.endIndex; c++) cols[c] = t.scopes;
      scopesAt.push(cols);
      stack = r.ruleStack;
    }
    const errors = [];
    const toks = lex(text);
    toks.forEach((t, i) => {
      const want = expected(toks, i);
      let line = 0;
      while (line + 1 < starts.length && starts[line + 1] <= t.start) line++;
      for (let k = 0; k < t.text.length; k++) {
        const col = t.start - starts[line] + k;
        const scopes = scopesAt[line][col] || [];
        if (!scopes.includes(want) || scopes.some((s) => s.startsWith('invalid.'))) {
          errors.push(`${file}:${line + 1}:${col + 1}: '${t.text}' has [${scopes.join(' ')}], expected ${want}`);
          break;
        }
      }
    });
    if (errors.length) {
      fail++;
      console.log(`FAIL ${file}\n  ${errors.slice(0, 10).join('\n  ')}`);
    } else {
      pass++;
    }
  }
  console.log(`textmate: ${pass} passed, ${fail} failed`);
  process.exit(fail ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
