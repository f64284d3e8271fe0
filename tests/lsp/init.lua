-- The smallest Neovim set-up that talks to nnc's language server, for the
-- editor test (tests/lsp/nvim.sh); docs/lsp.md shows the same for everyday
-- use. NNC names the binary. Neovim 0.8+ has vim.lsp.start; 0.7 (Debian
-- 12's) starts the client and attaches the buffer itself.
local nnc = os.getenv('NNC') or 'nnc'

vim.api.nvim_create_autocmd({'BufRead', 'BufNewFile'}, {
  pattern = '*.nn',
  callback = function() vim.bo.filetype = 'nn' end,
})

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'nn',
  callback = function(args)
    local config = {name = 'nnc', cmd = {nnc, 'lsp'}, root_dir = vim.fn.getcwd()}
    if vim.lsp.start then
      vim.lsp.start(config)
    else
      vim.lsp.buf_attach_client(args.buf, vim.lsp.start_client(config))
    end
  end,
})
