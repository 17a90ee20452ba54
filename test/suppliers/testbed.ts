import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { ManualClock } from '../../src/lib/clock.js';
import { validatorCompiler } from '../../src/http/validation.js';
import { installErrorHandling } from '../../src/http/errors.js';
import { installJsonBodyParser } from '../../src/http/json-body.js';
import { installAuth } from '../../src/http/auth.js';
import { ErrorBody } from '../../src/http/schemas.js';
import { createAlertService, type AlertService } from '../../src/modules/alerts/service.js';
import { createSupplierService, type PurchasedCodesImport, type SupplierService, type SupplierServiceOptions, type SupplierView } from '../../src/modules/suppliers/service.js';
import { supplierRoutes } from '../../src/modules/suppliers/routes.js';
import { startSupplierSim, type SupplierSim, type SupplierSimOptions } from '../fakes/supplier-sim/server.js';

/**
 * The supplier service on the real app database (bootTestApp), talking to
 * simulators over real HTTP. Supplier callbacks reach the routes through a
 * small relay listening on a real port, so the whole path
 * simulator -> HTTP -> route -> service is exercised.
 */
export interface Testbed {
  t: TestApp;
  clock: ManualClock;
  suppliers: SupplierService;
  alerts: AlertService;
  /** Every successful call of the injected importer (a recording fake). */
  imports: PurchasedCodesImport[];
  /** Set above 0 to make that many next imports throw (a vault outage). */
  importFailures: { remaining: number };
  /** Fastify with the platform's parsers, error shape and auth guard, and the supplier routes. */
  app: FastifyInstance;
  startSim(o?: SupplierSimOptions): Promise<SupplierSim>;
  addSupplier(sim: SupplierSim, o?: { name?: string; timeoutMs?: number }): Promise<SupplierView>;
  makeSku(o: { retailPriceFen: number; costFen?: number; kind?: 'code' | 'topup' }): Promise<string>;
  close(): Promise<void>;
}

const actor = { id: 'stf_test' };

export async function openTestbed(options: Omit<SupplierServiceOptions, 'callbackBaseUrl'> = {}): Promise<Testbed> {
  const clock = new ManualClock(new Date());
  const t = await bootTestApp({ clock });
  const alerts = createAlertService(t.platform);
  const imports: PurchasedCodesImport[] = [];
  const importFailures = { remaining: 0 };
  let app: FastifyInstance | null = null;

  const relay: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!app) return void res.writeHead(503).end();
      app
        .inject({ method: 'POST', url: req.url ?? '/', headers: req.headers, payload: Buffer.concat(chunks) })
        .then((r) => res.writeHead(r.statusCode, { 'content-type': 'application/json' }).end(r.body))
        .catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', () => resolve()));
  const callbackBaseUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;

  const suppliers = createSupplierService(
    t.platform,
    {
      audit: t.services.audit,
      catalog: t.services.catalog,
      alerts,
      importPurchasedCodes: async (input) => {
        if (importFailures.remaining > 0) {
          importFailures.remaining -= 1;
          throw new Error('vault unavailable');
        }
        imports.push(input);
        return { batchId: `bat_fake_${imports.length}`, count: input.codes.length };
      },
    },
    { queryRetryDelaysMs: [50, 100], callbackBaseUrl, ...options },
  );

  const a = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
  a.setValidatorCompiler(validatorCompiler);
  installErrorHandling(a);
  installJsonBodyParser(a);
  a.addSchema(ErrorBody);
  a.decorate('routeGuards', installAuth(a, t.services.auth));
  await a.register(supplierRoutes, { suppliers });
  await a.ready();
  app = a;

  const sims: SupplierSim[] = [];
  let seed = 100;
  let n = 0;
  return {
    t,
    clock,
    suppliers,
    alerts,
    imports,
    importFailures,
    app: a,
    async startSim(o = {}) {
      // Distinct seeds and keys: two simulators never hand out the same codes or sign alike.
      // The simulator's clock is the platform's, so callback timestamps line up with it.
      seed += 1;
      const sim = await startSupplierSim({ seed, apiKey: `sim-key-${seed}`, callbackSecret: `sim-callback-secret-${seed}`, now: () => clock.now().getTime(), ...o });
      sims.push(sim);
      return sim;
    },
    addSupplier: (sim, o = {}) =>
      suppliers.createSupplier({ name: o.name ?? `sim ${sims.indexOf(sim) + 1}`, baseUrl: sim.url, apiKey: sim.apiKey, callbackSecret: sim.callbackSecret, timeoutMs: o.timeoutMs ?? 2000 }, actor),
    async makeSku(o) {
      const product = await t.services.catalog.createProduct({
        name: `product ${++n}`,
        brand: 'test',
        category: 'games',
        kind: o.kind ?? 'code',
        skus: [{ name: `sku ${n}`, faceValueFen: o.retailPriceFen, costFen: o.costFen ?? 0, retailPriceFen: o.retailPriceFen }],
      });
      return product.skus[0]!.id;
    },
    async close() {
      await suppliers.idle();
      await Promise.all(sims.map((s) => s.close()));
      await a.close();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await t.close();
    },
  };
}

export const staff = actor;
