" nnc's .nn files: comments, indentation as `nnc fmt` writes it, and
" :NncFmt, which formats the buffer with `nnc fmt -` (on a syntax error the
" buffer stays as it is and the diagnostics are shown).
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal commentstring=#\ %s comments=:# expandtab shiftwidth=4 softtabstop=4
let b:undo_ftplugin = 'setlocal commentstring< comments< expandtab< shiftwidth< softtabstop<'
      \ . ' | delcommand -buffer NncFmt'

if !exists('*s:NncFmt')
  function s:NncFmt() abort
    let out = systemlist(get(g:, 'nnc_path', 'nnc') . ' fmt -', getline(1, '$'))
    if v:shell_error
      echohl ErrorMsg | echo join(out, "\n") | echohl None
      return
    endif
    if out ==# getline(1, '$')
      return
    endif
    let view = winsaveview()
    silent keepjumps %delete _
    call setline(1, out)
    call winrestview(view)
  endfunction
endif
command! -buffer -bar NncFmt call s:NncFmt()
