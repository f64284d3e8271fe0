// The VS Code client of the nnc language server: starts `nnc lsp` (the
// binary in the nnc.path setting) on stdio for .nn files. Highlighting
// comes from syntaxes/nn.tmLanguage.json and works without it.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration('nnc');
  if (!config.get('lsp.enabled', true))
    return;
  const command = config.get('path', 'nnc');
  const server = { command, args: ['lsp'], transport: TransportKind.stdio };
  client = new LanguageClient('nnc', 'nnc', { run: server, debug: server }, {
    documentSelector: [{ scheme: 'file', language: 'nn' }, { scheme: 'untitled', language: 'nn' }],
  });
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('nnc.path') || e.affectsConfiguration('nnc.lsp.enabled'))
      vscode.window.showInformationMessage('nnc: reload the window to apply the new settings.');
  }));
  client.start().catch((err) => {
    vscode.window.showErrorMessage(`nnc: cannot start '${command} lsp' (${err.message}). ` +
      'Set nnc.path to the nnc binary, or nnc.lsp.enabled to false.');
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
