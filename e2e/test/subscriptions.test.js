// Subscriptions through real GraphQL clients against two gateway processes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gql } from '@apollo/client/core/index.js';
import WebSocket from 'ws';

import {
  allClients, apolloClient, graphqlWsClient, taskUpdated, viaGraphqlWs, withTimeout, wsURL,
} from '../lib/clients.js';
import { System } from '../lib/system.js';
import { expiredToken } from '../lib/tokens.js';

const system = new System();

// The NOOP task's events as every client must see them.
const noopEvents = [
  { seq: 1, status: 'QUEUED', progress: 0, stage: 'queued', terminal: false },
  { seq: 2, status: 'RUNNING', progress: 0, stage: 'started', terminal: false },
  { seq: 3, status: 'RUNNING', progress: 0.5, stage: 'noop', terminal: false },
  { seq: 4, status: 'SUCCEEDED', progress: 1, stage: 'done', terminal: true },
];

before(async () => {
  await system.start({
    count: 2,
    flags: ['--subscription-ping-interval', '1s', '--subscription-init-timeout', '1s'],
  });
});

after(async () => {
  await system.stop();
});

// waitForSubscriptions polls a gateway until it has at least n subscriptions.
async function waitForSubscriptions(gateway, n) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stats = await system.stats(gateway);
    if (stats.subscriptions >= n) return;
    if (Date.now() > deadline) throw new Error(`gateway has ${stats.subscriptions} subscriptions, expected ${n}`);
    await sleep(50);
  }
}

// closeCode opens a raw graphql-transport-ws socket, runs steps on it and
// resolves with the close code and reason that the gateway sends.
function closeCode(gateway, steps) {
  return withTimeout(new Promise((resolve, reject) => {
    const socket = new WebSocket(wsURL(gateway), 'graphql-transport-ws');
    socket.on('open', () => steps(socket));
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on('error', reject);
  }), 10_000, 'waiting for the close frame');
}

describe('one task, every client', () => {
  test('each client sees the same ordered events, ending in completion', async () => {
    const taskId = await system.createTask();
    const [gatewayA, gatewayB] = system.gateways;
    const before = (await system.stats(gatewayA)).subscriptions + (await system.stats(gatewayB)).subscriptions;

    // Half of the clients go through each gateway, so the events cross
    // from the broker to both processes.
    const names = Object.keys(allClients);
    const runs = names.map((name, i) => allClients[name](
      system.gateways[i % 2], system.tokens.alice, taskUpdated, { id: taskId, afterSeq: 0 }, 'taskUpdated'));

    await waitForSubscriptions(gatewayA, 0);
    const deadline = Date.now() + 10_000;
    while ((await system.stats(gatewayA)).subscriptions + (await system.stats(gatewayB)).subscriptions
      < before + names.length) {
      assert.ok(Date.now() < deadline, 'the clients did not subscribe within 10 s');
      await sleep(50);
    }

    await system.record(taskId, 0, 4);

    const results = await withTimeout(Promise.all(runs), 20_000, 'the subscriptions');
    results.forEach((events, i) => assert.deepEqual(events, noopEvents, `events seen by ${names[i]}`));

    const apollo = apolloClient(gatewayA, system.tokens.alice);
    try {
      const { data } = await apollo.query({
        query: gql`query ($id: ID!) { task(id: $id) { status lastSeq } }`,
        variables: { id: taskId },
      });
      assert.equal(data.task.status, 'SUCCEEDED');
      assert.equal(data.task.lastSeq, 4);
    } finally {
      await apollo.dispose();
    }
  });

  test('requestAnalysis on one gateway reaches clients of the other', async () => {
    const [gatewayA, gatewayB] = system.gateways;
    const apollo = apolloClient(gatewayA, system.tokens.alice);
    let taskId;
    try {
      // Fails, rather than skips, while the schema has no requestAnalysis.
      const { data } = await apollo.mutate({
        mutation: gql`mutation ($meetingId: ID!) {
          requestAnalysis(meetingId: $meetingId, kind: NOOP) { id status }
        }`,
        variables: { meetingId: system.ids['meeting:Weekly planning'] },
      }).catch((err) => {
        const details = JSON.stringify(err.networkError?.result ?? err.graphQLErrors ?? err.message);
        throw new Error(`requestAnalysis(kind: NOOP) failed: ${details}`, { cause: err });
      });
      taskId = data.requestAnalysis.id;
    } finally {
      await apollo.dispose();
    }

    const names = Object.keys(allClients);
    const results = await withTimeout(Promise.all(names.map((name) => allClients[name](
      gatewayB, system.tokens.alice, taskUpdated, { id: taskId, afterSeq: 0 }, 'taskUpdated'))), 30_000,
    'the subscriptions to the requested task');
    results.forEach((events, i) => assert.deepEqual(events, noopEvents, `events seen by ${names[i]}`));
  });
});

describe('resume', () => {
  test('a client that drops after event 2 resumes with afterSeq 2', async () => {
    const taskId = await system.createTask();
    const gateway = system.gateways[1];

    const first = graphqlWsClient(gateway, system.tokens.alice);
    const seen = [];
    const gotSecond = new Promise((resolve, reject) => {
      first.subscribe({ query: taskUpdated, variables: { id: taskId, afterSeq: 0 } }, {
        next: (result) => {
          seen.push(result.data.taskUpdated.seq);
          if (result.data.taskUpdated.seq === 2) resolve();
        },
        error: reject,
        complete: () => {},
      });
    });

    await system.record(taskId, 0, 2);
    await withTimeout(gotSecond, 10_000, 'event 2');
    await first.dispose();
    assert.deepEqual(seen, [1, 2]);

    await system.record(taskId, 2, 4);

    const resumed = await withTimeout(
      viaGraphqlWs(gateway, system.tokens.alice, taskUpdated, { id: taskId, afterSeq: 2 }, 'taskUpdated'),
      10_000, 'the resumed subscription');
    assert.deepEqual(resumed.map((e) => e.seq), [3, 4]);
  });
});

describe('authentication', () => {
  test('an expired token closes the socket with 4403', async () => {
    const expired = expiredToken((await system.meetgraph('token', '--user', 'alice@example.com')).trim());
    const client = graphqlWsClient(system.gateways[0], expired);
    try {
      const closed = await withTimeout(new Promise((resolve) => {
        client.subscribe({ query: taskUpdated, variables: { id: '00000000-0000-0000-0000-000000000000' } }, {
          next: () => {}, complete: () => resolve(null), error: resolve,
        });
      }), 10_000, 'the rejection');
      assert.equal(closed?.code, 4403);
      assert.match(closed.reason, /token expired/);
    } finally {
      await client.dispose();
    }
  });

  test('no connection_init closes the socket with 4408', async () => {
    const { code } = await closeCode(system.gateways[0], () => {});
    assert.equal(code, 4408);
  });

  test('a subscribe before the acknowledgement closes the socket with 4401', async () => {
    const { code } = await closeCode(system.gateways[0], (socket) => {
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } }));
    });
    assert.equal(code, 4401);
  });

  test("another user's meeting is NOT_FOUND", async () => {
    const failure = await viaGraphqlWs(system.gateways[0], system.tokens.erin,
      'subscription ($id: ID!) { meetingTasks(meetingId: $id) { seq } }',
      { id: system.ids['meeting:Weekly planning'] }, 'meetingTasks').then(() => null, (err) => err);
    assert.ok(failure, 'the subscription must fail');
    assert.equal(failure.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  });

  test('SSE without a token is 401', async () => {
    const response = await fetch(`${system.gateways[0].url}/query`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ query: taskUpdated, variables: { id: '00000000-0000-0000-0000-000000000000' } }),
    });
    assert.equal(response.status, 401);
    const body = await response.json();
    assert.equal(body.errors[0].extensions.code, 'UNAUTHENTICATED');
  });
});

describe('one connection, several operations', () => {
  test('an invalid operation ends alone', async () => {
    const taskId = await system.createTask();
    const client = graphqlWsClient(system.gateways[0], system.tokens.alice);
    try {
      const events = [];
      const good = new Promise((resolve, reject) => {
        client.subscribe({ query: taskUpdated, variables: { id: taskId } }, {
          next: (result) => events.push(result.data.taskUpdated.seq), error: reject, complete: resolve,
        });
      });
      const bad = new Promise((resolve) => {
        client.subscribe({ query: 'subscription { noSuchField }' }, {
          next: () => {}, error: resolve, complete: () => resolve(null),
        });
      });

      const badError = await withTimeout(bad, 10_000, 'the invalid operation');
      assert.ok(Array.isArray(badError), 'the invalid operation ends with a list of errors');
      assert.ok(badError.length > 0, 'the invalid operation gets at least one error');

      await system.record(taskId, 0, 4);
      await withTimeout(good, 10_000, 'the valid operation');
      assert.deepEqual(events, [1, 2, 3, 4]);
    } finally {
      await client.dispose();
    }
  });
});
