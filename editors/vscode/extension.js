// The mvm extension: starts `mvmctl lsp` (the path from the `mvm.path` setting) for Python and
// TypeScript files and forwards the `mvm.profile` and `mvm.policy` settings to it. Everything else
// (diagnostics, hover, completion, quick fixes) is the server's.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

/** The settings the server reads, as it expects them in `initializationOptions`. */
function serverSettings() {
  const config = vscode.workspace.getConfiguration('mvm');
  return { mvm: { profile: config.get('profile', 'dev'), policy: config.get('policy', '') } };
}

function createClient() {
  const command = vscode.workspace.getConfiguration('mvm').get('path', 'mvmctl') || 'mvmctl';
  const executable = { command, args: ['lsp'], transport: TransportKind.stdio };
  return new LanguageClient(
    'mvm',
    'mvm',
    { run: executable, debug: executable },
    {
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { scheme: 'file', language: 'typescript' },
        { scheme: 'file', language: 'typescriptreact' },
        { scheme: 'untitled', language: 'python' },
        { scheme: 'untitled', language: 'typescript' },
        { scheme: 'untitled', language: 'typescriptreact' },
      ],
      initializationOptions: serverSettings(),
      // Sends `workspace/didChangeConfiguration` with `{ mvm: {...} }` whenever a setting changes.
      synchronize: { configurationSection: 'mvm' },
    },
  );
}

async function activate(context) {
  client = createClient();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      // The server reads profile and policy live; a different executable needs a new process.
      if (event.affectsConfiguration('mvm.path')) {
        await client.stop();
        client = createClient();
        await client.start();
      }
    }),
  );
  await client.start();
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate, serverSettings };
