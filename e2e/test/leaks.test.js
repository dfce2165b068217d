// Clients that vanish must not leave goroutines, hub entries or sockets behind.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

import { taskUpdated, withTimeout } from '../lib/clients.js';
import { FreezableProxy } from '../lib/proxy.js';
import { System } from '../lib/system.js';

const pingIntervalSeconds = 1;
const system = new System();

before(async () => {
  await system.start({ flags: ['--subscription-ping-interval', `${pingIntervalSeconds}s`] });
});

after(async () => {
  await system.stop();
});

// openSubscription opens a graphql-transport-ws socket on port and starts
// one taskUpdated subscription on it.
function openSubscription(port, token, taskId) {
  return withTimeout(new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/query`, 'graphql-transport-ws');
    socket.on('error', reject);
    socket.on('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
    });
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({
          id: '1', type: 'subscribe', payload: { query: taskUpdated, variables: { id: taskId } },
        }));
        resolve(socket);
      }
    });
  }), 10_000, 'opening a subscription');
}

async function waitFor(description, timeoutMs, condition) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await condition();
    if (last.ok) return last;
    if (Date.now() > deadline) throw new Error(`${description} not reached within ${timeoutMs} ms: ${last.detail}`);
    await sleep(100);
  }
}

test('500 subscriptions cut abruptly or silenced release everything', async () => {
  const [gateway] = system.gateways;
  const taskId = await system.createTask();

  // One subscription first, so that lazily started pools count in the baseline.
  const warmUp = await openSubscription(gateway.port, system.tokens.alice, taskId);
  warmUp.close();
  await waitFor('warm-up closed', 10_000, async () => {
    const stats = await system.stats(gateway);
    return { ok: stats.subscriptions === 0, detail: JSON.stringify(stats) };
  });
  const baseline = await system.stats(gateway);

  const proxy = new FreezableProxy(gateway.port);
  await proxy.listen();

  const direct = [];
  for (let i = 0; i < 250; i++) {
    direct.push(await openSubscription(gateway.port, system.tokens.alice, taskId));
    await openSubscription(proxy.port, system.tokens.alice, taskId);
  }

  await waitFor('500 subscriptions open', 10_000, async () => {
    const stats = await system.stats(gateway);
    return { ok: stats.subscriptions === 500, detail: JSON.stringify(stats) };
  });

  // Half go away with an abrupt TCP close, the other half go silent.
  const cutAt = Date.now();
  for (const socket of direct) socket._socket.destroy();
  proxy.freeze();

  try {
    const released = await waitFor('baseline', 2 * pingIntervalSeconds * 1000 + 5000, async () => {
      const stats = await system.stats(gateway);
      const ok = stats.subscriptions === baseline.subscriptions
        && stats.websocketConnections === baseline.websocketConnections
        && stats.goroutines <= baseline.goroutines + 5;
      return { ok, detail: `now ${JSON.stringify(stats)}, baseline ${JSON.stringify(baseline)}`, stats };
    });
    console.log(`released in ${Date.now() - cutAt} ms: ${JSON.stringify(released.stats)}`);
    assert.equal(released.stats.subscriptions, baseline.subscriptions);
  } finally {
    await proxy.close();
  }
});
