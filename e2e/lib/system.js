// Starts a real meetgraph system for the end-to-end tests: builds the
// binaries, creates a database and a RabbitMQ vhost for this run, migrates
// and seeds, and runs gateway processes that it stops by pid at the end.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// Defaults match the services that scripts/services starts; the same
// MEETGRAPH_TEST_* variables as the Go tests point elsewhere.
const adminDatabaseURL = process.env.MEETGRAPH_TEST_DATABASE_URL
  ?? 'postgres://meetgraph:meetgraph@127.0.0.1:5432/meetgraph?sslmode=disable';
const brokerURL = process.env.MEETGRAPH_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

// Users whose development tokens the tests use.
export const users = ['alice', 'erin'];

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function rabbitmqctl(...args) {
  await run('rabbitmqctl', ['--quiet', ...args]);
}

export class System {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'meetgraph-e2e-'));
    this.suffix = randomBytes(6).toString('hex');
    this.gateways = [];
    this.tokens = {};
  }

  // start prepares the services and runs `count` gateways with extra flags.
  async start({ count = 1, flags = [] } = {}) {
    await this.build();

    const databaseName = `meetgraph_e2e_${this.suffix}`;
    const { stdout } = await this.taskfeed('createdb', '--admin-url', adminDatabaseURL, '--name', databaseName);
    this.databaseName = databaseName;
    this.databaseURL = stdout.trim();

    this.vhost = `meetgraph-e2e-${this.suffix}`;
    await rabbitmqctl('add_vhost', this.vhost);
    const broker = new URL(brokerURL);
    await rabbitmqctl('set_permissions', '-p', this.vhost, decodeURIComponent(broker.username), '.*', '.*', '.*');
    broker.pathname = `/${this.vhost}`;
    this.amqpURL = broker.toString();

    await this.meetgraph('migrate');
    await this.meetgraph('seed');

    for (const user of users) {
      this.tokens[user] = (await this.meetgraph('token', '--user', `${user}@example.com`)).trim();
    }

    this.ids = await this.seedIds();

    for (let i = 0; i < count; i++) {
      this.gateways.push(await this.startGateway(flags));
    }
  }

  async build() {
    await run('go', ['build', '-o', path.join(this.dir, 'meetgraph'), './cmd/meetgraph'], { cwd: root });
    await run('go', ['build', '-o', path.join(this.dir, 'taskfeed'), './internal/taskfeed/cmd/taskfeed'], { cwd: root });
  }

  settings() {
    return ['--database-url', this.databaseURL, '--amqp-url', this.amqpURL, '--dev', '--log-level', 'debug'];
  }

  async meetgraph(...args) {
    const { stdout } = await run(path.join(this.dir, 'meetgraph'), [...args, ...this.settings()]);
    return stdout;
  }

  async taskfeed(...args) {
    return run(path.join(this.dir, 'taskfeed'), args);
  }

  // seedIds maps 'meeting:<title>' and 'user:<email>' to the seeded ids.
  async seedIds() {
    const ids = {};
    const { stdout } = await run('psql', [this.databaseURL, '-At', '-c',
      "SELECT 'meeting:' || title || '=' || id FROM meetings UNION ALL SELECT 'user:' || email || '=' || id FROM users"]);
    for (const line of stdout.trim().split('\n')) {
      const [key, value] = line.split('=');
      ids[key] = value;
    }
    return ids;
  }

  async startGateway(flags) {
    const port = await freePort();
    const logPath = path.join(this.dir, `gateway-${port}.log`);
    const log = openSync(logPath, 'a');
    const child = spawn(path.join(this.dir, 'meetgraph'),
      // The suite opens hundreds of connections from one address, which the
      // per-caller rate limit would refuse, so it is off here.
      ['all', '--http-addr', `127.0.0.1:${port}`, '--rate-limit', '0', ...this.settings(), ...flags],
      { stdio: ['ignore', log, log] });

    const gateway = { port, pid: child.pid, child, logPath, url: `http://127.0.0.1:${port}` };
    gateway.exited = new Promise((resolve) => child.on('exit', resolve));

    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const response = await fetch(`${gateway.url}/readyz`);
        if (response.status === 200) break;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`gateway on port ${port} did not become ready:\n${readFileSync(logPath, 'utf8')}`);
      }
      await sleep(100);
    }

    return gateway;
  }

  // createTask inserts a NOOP task for a meeting through the helper.
  async createTask(meetingTitle = 'Weekly planning', requester = 'alice@example.com') {
    const { stdout } = await this.taskfeed('create', '--database-url', this.databaseURL, '--amqp-url', this.amqpURL,
      '--meeting', this.ids[`meeting:${meetingTitle}`], '--user', this.ids[`user:${requester}`]);
    return stdout.trim();
  }

  // record stores and publishes the NOOP task's events with indexes from..to-1.
  async record(taskId, from, to) {
    await this.taskfeed('record', '--database-url', this.databaseURL, '--amqp-url', this.amqpURL,
      '--task', taskId, '--from', String(from), '--to', String(to));
  }

  async stats(gateway) {
    const response = await fetch(`${gateway.url}/debug/subscriptions`);
    return response.json();
  }

  // stop ends every gateway by pid and removes the database and vhost.
  async stop() {
    for (const gateway of this.gateways) {
      if (gateway.child.exitCode === null) {
        process.kill(gateway.pid, 'SIGTERM');
        const timer = setTimeout(() => process.kill(gateway.pid, 'SIGKILL'), 20_000);
        await gateway.exited;
        clearTimeout(timer);
      }
    }
    if (this.vhost) await rabbitmqctl('delete_vhost', this.vhost);
    if (this.databaseName) {
      await this.taskfeed('dropdb', '--admin-url', adminDatabaseURL, '--name', this.databaseName);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
