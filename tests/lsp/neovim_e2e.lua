-- End-to-end check of `mvmctl lsp` in a real editor (Neovim 0.7+, headless): attach to a Python
-- buffer with an unknown option, wait for the diagnostic, fix it with a buffer edit (sent as an
-- incremental didChange), wait for the diagnostics to clear. Writes PASS/FAIL to $MVM_RESULT.
local mvmctl = os.getenv('MVMCTL')
local file = os.getenv('MVM_TEST_FILE')
local result_path = os.getenv('MVM_RESULT')

local function finish(ok, message)
  local f = io.open(result_path, 'w')
  f:write((ok and 'PASS ' or 'FAIL ') .. message .. '\n')
  f:close()
  vim.cmd('qa!')
end

vim.cmd('edit ' .. vim.fn.fnameescape(file))
local bufnr = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start_client({
  name = 'mvm',
  cmd = { mvmctl, 'lsp' },
  root_dir = vim.fn.fnamemodify(file, ':h'),
})
if not client_id then
  return finish(false, 'vim.lsp.start_client failed')
end
vim.lsp.buf_attach_client(bufnr, client_id)

if not vim.wait(60000, function() return #vim.diagnostic.get(bufnr) > 0 end, 50) then
  return finish(false, 'no diagnostics for the bad file')
end
local d = vim.diagnostic.get(bufnr)[1]
if d.code ~= 'MVM1002' or not d.message:find('timeout_seconds', 1, true) then
  return finish(false, 'unexpected diagnostic: ' .. vim.inspect(d))
end

vim.api.nvim_buf_set_text(bufnr, d.lnum, d.col, d.end_lnum, d.end_col, { 'timeout_seconds' })
if not vim.wait(60000, function() return #vim.diagnostic.get(bufnr) == 0 end, 50) then
  return finish(false, 'diagnostics did not clear: ' .. vim.inspect(vim.diagnostic.get(bufnr)))
end
finish(true, 'diagnostic at ' .. d.lnum .. ':' .. d.col .. ' appeared and cleared')
