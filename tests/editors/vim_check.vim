" Loads editors/vim (ftdetect + syntax) into a bare Vim, opens the fixture
" and checks the syntax group of one token of each kind; writes "ok" or the
" failures to $NN_VIM_OUT. Run by tests/editors/run.sh:
"   vim -Nu NONE -i NONE -es -S tests/editors/vim_check.vim
let s:root = fnamemodify(expand('<sfile>:p'), ':h:h:h')
let &runtimepath = s:root . '/editors/vim,' . &runtimepath
filetype plugin on
syntax on
execute 'edit ' . fnameescape(s:root . '/tests/editors/fixture.nn')
let s:failures = []
if &filetype !=# 'nn'
  call add(s:failures, 'filetype of a .nn file is "' . &filetype . '", not nn')
endif
if &commentstring !=# '# %s' || &shiftwidth != 4 || exists(':NncFmt') != 2
  call add(s:failures, 'ftplugin: commentstring, shiftwidth or :NncFmt missing')
endif
" [pattern to find, offset into the match, expected group]
let s:cases = [
      \ ['^dataset', 0, 'nnDeclaration'], ['dataset \zsd3', 0, 'nnDeclName'],
      \ ['^model', 0, 'nnDeclaration'], ['\<on\>', 0, 'nnKeyword'],
      \ ['\<input\>', 0, 'nnKeyword'], ['\<sweep\>', 0, 'nnKeyword'],
      \ ['\<true\>', 0, 'nnBoolean'], ['\<dense\>', 0, 'nnLayer'],
      \ ['\<dropout\>', 0, 'nnLayer'], ['\<leaky_relu\>', 0, 'nnActivation'],
      \ ['^\s*\zsrelu', 0, 'nnActivation'], ['\<sigmoid\>', 0, 'nnActivation'],
      \ ['\<bce\>', 0, 'nnLoss'], ['\<adam\>', 0, 'nnOptimizer'],
      \ ['layer1\ze:', 0, 'nnLabel'], ['\<optimizer\>', 0, 'nnProperty'],
      \ ['lr = \zs0.1', 0, 'nnNumber'], ['-1.5', 0, 'nnNumber'], ['1E+5', 0, 'nnNumber'],
      \ ['\.5\]', 0, 'nnNumber'], ['"data', 0, 'nnString'], ['not a comment', 0, 'nnString'],
      \ ['\\"quoted', 0, 'nnEscape'], ['^# Tricky', 0, 'nnComment'],
      \ ['d3\.\zstrain', 0, 'nnPart'],
      \ ]
for [s:pat, s:off, s:group] in s:cases
  call cursor(1, 1)
  let [s:l, s:c] = searchpos(s:pat, 'cW')
  if s:l == 0
    call add(s:failures, 'pattern not found: ' . s:pat)
    continue
  endif
  let s:got = synIDattr(synID(s:l, s:c + s:off, 1), 'name')
  if s:got !=# s:group
    call add(s:failures, printf('%d:%d %s: %s, expected %s', s:l, s:c, s:pat, s:got, s:group))
  endif
endfor
" :NncFmt with the nnc under test: a messy buffer is formatted, a broken
" one is left as it is.
if $NNC !=# ''
  let g:nnc_path = $NNC
  enew
  setfiletype nn
  call setline(1, ['model m {', 'input 2', '  dense 1,   sigmoid  # out', '}'])
  silent NncFmt
  let s:want = ['model m {', '    input 2', '    dense 1, sigmoid                # out', '}']
  if getline(1, '$') !=# s:want
    call add(s:failures, ':NncFmt gave ' . string(getline(1, '$')))
  endif
  call setline(1, ['model m {', 'dense 1,'])
  silent! 3,$delete _
  silent! NncFmt
  if getline(1, '$') !=# ['model m {', 'dense 1,']
    call add(s:failures, ':NncFmt changed a broken buffer: ' . string(getline(1, '$')))
  endif
endif
call writefile(empty(s:failures) ? ['ok'] : s:failures, $NN_VIM_OUT)
qall!
