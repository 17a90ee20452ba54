/**
 * The app under test as a real child process (`tsx src/main.ts`), on a fixed
 * port so the fakes' callback URLs stay valid across restarts. Its output is
 * appended to one log file the run points at on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface AppProcess {
  url: string;
  pid(): number | undefined;
  /** Why the process ended on its own (not killed by the run), or null while it runs. */
  crashed(): string | null;
  start(): Promise<number>;
  /** SIGKILL: no shutdown hooks, in-flight transactions cut. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** Ms until /readyz answers 200 (both the database and Redis reachable), or throws after timeoutMs. */
  waitReady(timeoutMs?: number): Promise<number>;
}

export function appProcess(env: Record<string, string>, port: number, logFile: string): AppProcess {
  let child: ChildProcess | null = null;
  let crash: string | null = null;
  const url = `http://127.0.0.1:${port}`;
  const waitReady = async (timeoutMs = 120_000) => {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      try {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) });
        await res.arrayBuffer();
        if (res.status === 200) return Date.now() - t0;
      } catch {
        /* not up yet */
      }
      if (child && child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}; see ${logFile}`);
      await sleep(200);
    }
    throw new Error(`the app was not ready within ${timeoutMs} ms; see ${logFile}`);
  };
  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
  return {
    url,
    pid: () => child?.pid,
    crashed: () => crash,
    async start() {
      const fd = openSync(logFile, 'a');
      const c = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      child = c;
      c.once('exit', (code, signal) => {
        if (child === c) crash = `the app exited by itself (code ${code}, signal ${signal}); see ${logFile}`;
      });
      return waitReady();
    },
    async kill() {
      const c = child;
      if (!c) return;
      child = null;
      c.kill('SIGKILL');
      await exited(c);
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = null;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited(c);
      clearTimeout(timer);
    },
    waitReady,
  };
}
