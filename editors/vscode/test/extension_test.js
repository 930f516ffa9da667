// Tests the extension without VS Code: package.json declares exactly the settings the extension
// and the server read; extension.js starts `<mvm.path> lsp` with those settings (fake `vscode` and
// `vscode-languageclient` modules record what it does); and the real server, given the settings in
// the shape the extension sends, applies them.
//
//   node test/extension_test.js [path/to/mvmctl]
'use strict';

const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const Module = require('module');
const path = require('path');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// --- package.json -------------------------------------------------------------------------------
const properties = pkg.contributes.configuration.properties;
assert.deepStrictEqual(Object.keys(properties).sort(), ['mvm.path', 'mvm.policy', 'mvm.profile']);
assert.deepStrictEqual(properties['mvm.profile'].enum, ['dev', 'production']);
assert.ok(pkg.dependencies['vscode-languageclient'], 'vscode-languageclient must be a dependency');
assert.strictEqual(pkg.main, './extension.js');

// --- extension.js is valid JavaScript (what `node --check` does) --------------------------------
const check = childProcess.spawnSync(process.execPath, ['--check', path.join(root, 'extension.js')]);
assert.strictEqual(check.status, 0, String(check.stderr));

// --- extension.js with fake modules -------------------------------------------------------------
const settings = { path: '/opt/mvm/bin/mvmctl', profile: 'production', policy: '/etc/mvm-policy.json' };
const listeners = [];
const clients = [];
const fakeVscode = {
  workspace: {
    getConfiguration(section) {
      assert.strictEqual(section, 'mvm');
      return { get: (key, fallback) => (key in settings ? settings[key] : fallback) };
    },
    onDidChangeConfiguration(listener) {
      listeners.push(listener);
      return { dispose() {} };
    },
  },
};
class FakeClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions, started: 0, stopped: 0 });
    clients.push(this);
  }
  async start() { this.started += 1; }
  async stop() { this.stopped += 1; }
}
const fakeLanguageClient = { LanguageClient: FakeClient, TransportKind: { stdio: 0 } };
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === 'vscode') return fakeVscode;
  if (request === 'vscode-languageclient/node') return fakeLanguageClient;
  return originalLoad.call(this, request, parent, isMain);
};
const extension = require(path.join(root, 'extension.js'));

async function testExtension() {
  const context = { subscriptions: [] };
  await extension.activate(context);
  assert.strictEqual(clients.length, 1);
  const first = clients[0];
  assert.strictEqual(first.started, 1);
  assert.deepStrictEqual(first.serverOptions.run, { command: settings.path, args: ['lsp'], transport: 0 });
  assert.deepStrictEqual(first.clientOptions.initializationOptions,
                         { mvm: { profile: 'production', policy: '/etc/mvm-policy.json' } });
  assert.strictEqual(first.clientOptions.synchronize.configurationSection, 'mvm');
  const languages = first.clientOptions.documentSelector.map((s) => s.language);
  for (const language of ['python', 'typescript', 'typescriptreact']) {
    assert.ok(languages.includes(language), language);
  }
  // A profile change is the server's business (didChangeConfiguration); a new path restarts.
  await listeners[0]({ affectsConfiguration: (key) => key === 'mvm.profile' });
  assert.strictEqual(clients.length, 1);
  settings.path = '/usr/local/bin/mvmctl';
  await listeners[0]({ affectsConfiguration: (key) => key === 'mvm.path' });
  assert.strictEqual(first.stopped, 1);
  assert.strictEqual(clients.length, 2);
  assert.strictEqual(clients[1].serverOptions.run.command, '/usr/local/bin/mvmctl');
  assert.strictEqual(clients[1].started, 1);
  await extension.deactivate();
  assert.strictEqual(clients[1].stopped, 1);
}

// --- the real server reads the settings in that shape -------------------------------------------
function frame(message) {
  const body = Buffer.from(JSON.stringify(message));
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
}

function parseFrames(buffer) {
  const messages = [];
  let rest = buffer;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const length = Number(/Content-Length: (\d+)/i.exec(rest.subarray(0, end).toString())[1]);
    messages.push(JSON.parse(rest.subarray(end + 4, end + 4 + length).toString()));
    rest = rest.subarray(end + 4 + length);
  }
  return messages;
}

function runServer(mvmctl, profile) {
  const uri = 'file:///project/app.py';
  const text = 'from mvm import workload\n\n@workload("hello", image="template:python-3.11")\n' +
               'def hello():\n    pass\n';
  const input = Buffer.concat([
    frame({ jsonrpc: '2.0', id: 1, method: 'initialize',
            params: { capabilities: {}, initializationOptions: { mvm: { profile, policy: '' } } } }),
    frame({ jsonrpc: '2.0', method: 'initialized', params: {} }),
    frame({ jsonrpc: '2.0', method: 'textDocument/didOpen',
            params: { textDocument: { uri, languageId: 'python', version: 1, text } } }),
    frame({ jsonrpc: '2.0', id: 2, method: 'shutdown' }),
    frame({ jsonrpc: '2.0', method: 'exit' }),
  ]);
  const result = childProcess.spawnSync(mvmctl, ['lsp'], { input, timeout: 30000 });
  assert.strictEqual(result.status, 0, String(result.stderr));
  return parseFrames(result.stdout);
}

function testServer(mvmctl) {
  for (const profile of properties['mvm.profile'].enum) {
    const messages = runServer(mvmctl, profile);
    const shown = messages.filter((m) => m.method === 'window/showMessage');
    assert.deepStrictEqual(shown, [], `profile ${profile} was refused`);
    const kinds = messages.filter((m) => m.method === 'textDocument/publishDiagnostics')
      .flatMap((m) => m.params.diagnostics.map((d) => d.data.kind));
    // Only the production profile requires a timeout: proof that the setting was applied.
    assert.strictEqual(kinds.includes('missing-timeout'), profile === 'production', kinds.join());
  }
  const refused = runServer(mvmctl, 'staging').filter((m) => m.method === 'window/showMessage');
  assert.strictEqual(refused.length, 1);
}

testExtension().then(() => {
  if (process.argv[2]) testServer(process.argv[2]);
  console.log('vscode extension: ok');
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
