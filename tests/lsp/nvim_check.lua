-- Run by tests/lsp/nvim.sh inside `nvim --headless -u init.lua FILE.nn`:
-- checks what the editor makes of the server's answers, with the buffer's
-- own conversions (Neovim turns UTF-16 columns into bytes itself).
local buf = vim.api.nvim_get_current_buf()
local failures = 0

local function check(ok, what)
  io.stderr:write((ok and 'ok   ' or 'FAIL ') .. what .. '\n')
  if not ok then failures = failures + 1 end
end

-- 1-based line of the first line containing needle, and its 0-based byte column.
local function find(needle, from)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if i >= (from or 1) then
      local col = line:find(needle, 1, true)
      if col then return i, col - 1 end
    end
  end
  error('not in the buffer: ' .. needle)
end

local function client()
  return vim.lsp.buf_get_clients(buf)[1] or (vim.lsp.get_active_clients() or {})[1]
end

check(vim.wait(20000, function() local c = client(); return c and c.initialized end, 50),
      'the server started and initialized')
check(vim.wait(20000, function() return #vim.diagnostic.get(buf) >= 2 end, 50),
      'diagnostics arrived')

local function diagnostic(pattern)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.message:find(pattern, 1, true) then return d end
  end
end

-- A misspelled activation, at its line and column.
local d = diagnostic("unknown activation 'sigmiod'; did you mean 'sigmoid'?")
local line, col = find('sigmiod')
check(d ~= nil, 'a diagnostic for the misspelled activation')
check(d and d.lnum == line - 1 and d.col == col and d.end_col == col + 7,
      string.format('at line %d, column %d to %d (got %s)', line, col, col + 7,
                    d and string.format('%d:%d-%d', d.lnum + 1, d.col, d.end_col) or 'none'))
check(d and d.severity == vim.diagnostic.severity.ERROR, 'as an error')

-- After "é😀" on the same line: the server's UTF-16 column must become the
-- right byte column in the editor.
d = diagnostic("unknown target 'lats'")
line, col = find('lats')
check(d and d.lnum == line - 1 and d.col == col,
      string.format('after non-ASCII text: line %d, byte column %d (got %s)', line, col,
                    d and string.format('%d:%d', d.lnum + 1, d.col) or 'none'))

-- Hover over a layer shows its shape (the model has an error after it:
-- the lines up to it are checked).
line, col = find('hidden:')
local params = {textDocument = {uri = vim.uri_from_bufnr(buf)}, position = {line = line - 1, character = col + 1}}
local replies = vim.lsp.buf_request_sync(buf, 'textDocument/hover', params, 10000) or {}
local text = ''
for _, r in pairs(replies) do
  if r.result and r.result.contents then text = text .. (r.result.contents.value or '') end
end
check(text:find('output [4]', 1, true) ~= nil, 'hover over a layer shows its output shape: ' .. text:gsub('\n', ' | '))
check(text:find('parameters: 12', 1, true) ~= nil, 'and its parameter count')

-- Go to definition from `train XORNet` lands on `model XORNet`.
local use_line, use_col = find('XORNet', find('train'))
local decl_line, decl_col = find('model XORNet')
vim.api.nvim_win_set_cursor(0, {use_line, use_col + 2})
vim.lsp.buf.definition()
local landed = vim.wait(10000, function()
  return vim.api.nvim_win_get_cursor(0)[1] == decl_line
end, 50)
local cur = vim.api.nvim_win_get_cursor(0)
check(landed and cur[2] == decl_col + 6,
      string.format('go to definition lands on the declaration %d:%d (got %d:%d)',
                    decl_line, decl_col + 6, cur[1], cur[2]))

-- Formatting gives the buffer exactly what `nnc fmt` prints for the file.
local want = vim.fn.system({os.getenv('NNC'), 'fmt', vim.api.nvim_buf_get_name(buf)})
if vim.lsp.buf.format then
  vim.lsp.buf.format({bufnr = buf, timeout_ms = 10000})
else
  vim.lsp.buf.formatting_sync(nil, 10000)
end
local got = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
check(got == want and not want:find('  epochs=10', 1, true),
      'formatting gives nnc fmt\'s text' .. (got == want and '' or (':\n' .. got)))

vim.cmd(failures == 0 and 'qall!' or 'cquit 1')
