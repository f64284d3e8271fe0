" nnc's .nn files (the neural-network language of nnc, docs/language.md).
autocmd BufRead,BufNewFile *.nn setfiletype nn
