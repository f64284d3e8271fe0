" Vim syntax file
" Language:    nnc's .nn neural-network language (docs/language.md)
" Maintainer:  the nnc project
" Keep the word lists in step with nnc's op table (src/ir/ops.c); the
" editor test (tests/editors/run.sh) checks they are.

if exists('b:current_syntax')
  finish
endif

syn case match

syn keyword nnDeclaration dataset model train evaluate nextgroup=nnDeclName skipwhite
syn match   nnDeclName    contained "\h\w*"
syn keyword nnKeyword     on input sweep
syn keyword nnBoolean     true false
syn keyword nnLayer       dense dropout conv1d conv2d maxpool1d maxpool2d avgpool1d avgpool2d global_avgpool global_maxpool flatten batchnorm add concat
syn keyword nnActivation  step sigmoid tanh relu leaky_relu gelu silu elu softplus hardswish hardsigmoid softmax identity
syn keyword nnLoss        bce mse cross_entropy bce_logits l1 huber
syn keyword nnOptimizer   sgd adam adamw rmsprop
" schedules; `step` is also an activation and highlighted as one
syn keyword nnSchedule    constant exponential cosine
syn keyword nnConstant    last first minmax standard

" `name:` at the start of a layer line; `key =` of a property or argument.
syn match   nnLabel       "\<\h\w*\ze\s*:"
syn match   nnProperty    "\<\h\w*\ze\s*=\%(=\)\@!"
" digits.train: a dataset's part, not the keyword (the match starts at the
" dot, before the keyword could).
syn match   nnPart        "\.\s*\h\w*" contains=nnDot
syn match   nnDot         contained "\."

syn match   nnNumber      "\%(\w\|\.\)\@<!-\=\%(\d\+\%(\.\d*\)\=\|\.\d\+\)\%([eE][+-]\=\d\+\)\="

syn region  nnString      start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ oneline contains=nnEscape,nnBadEscape
syn match   nnBadEscape   contained +\\.+
syn match   nnEscape      contained +\\[\\"]+

syn keyword nnTodo        contained TODO FIXME XXX NOTE
syn match   nnComment     "#.*$" contains=nnTodo,@Spell

hi def link nnDeclaration Keyword
hi def link nnDeclName    Identifier
hi def link nnKeyword     Keyword
hi def link nnBoolean     Boolean
hi def link nnLayer       Type
hi def link nnActivation  Function
hi def link nnLoss        Constant
hi def link nnOptimizer   Function
hi def link nnSchedule    Function
hi def link nnConstant    Constant
hi def link nnLabel       Label
hi def link nnProperty    Identifier
hi def link nnPart        Identifier
hi def link nnDot         Delimiter
hi def link nnNumber      Number
hi def link nnString      String
hi def link nnEscape      SpecialChar
hi def link nnBadEscape   Error
hi def link nnTodo        Todo
hi def link nnComment     Comment

let b:current_syntax = 'nn'
