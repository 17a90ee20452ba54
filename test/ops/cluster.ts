import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../helpers/ports.js';
import { createInterface } from 'node:readline';

export interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
  /** Every JSON log line the instance printed so far. */
  logs: Record<string, unknown>[];
  stderr: string[];
}

/**
 * `src/main.ts` in its own process, as `npm start` runs it, on its own port,
 * with exactly this environment; resolves when /readyz answers 200.
 */
export async function startInstance(name: string, env: Record<string, string>, timeoutMs = 120_000): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, HOST: '127.0.0.1', PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const instance: Instance = { name, url: `http://127.0.0.1:${port}`, child, logs: [], stderr: [] };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    try {
      instance.logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* a banner line */
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => instance.stderr.push(line));
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${instance.stderr.slice(-20).join('\n')}`);
    const ready = await fetch(`${instance.url}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return instance;
    if (Date.now() > end) throw new Error(`${name} not ready after ${timeoutMs} ms: ${instance.stderr.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** SIGTERM (graceful: jobs and sockets close), SIGKILL after 15 s. */
export function stopInstance(i: Instance): Promise<void> {
  return new Promise((resolve) => {
    if (i.child.exitCode !== null || i.child.signalCode !== null) return resolve();
    const kill = setTimeout(() => i.child.kill('SIGKILL'), 15_000);
    i.child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    i.child.kill('SIGTERM');
  });
}
