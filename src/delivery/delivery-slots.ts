import { BoundedMap } from '../bounded-map.js';

/** The worker is stopping: a delivery that had not started yet is not started here (its task hands it to a new job). */
export class WorkerStoppingError extends Error {
  override readonly name = 'WorkerStoppingError';
  constructor() {
    super('the worker is stopping: delivery not started');
  }
}

/**
 * The delivery's tenant holds its share of the worker's slots, and the delivery would wait long
 * for one of them: it goes back to the queue, neither claimed nor attempted, for `retryInMs` (its
 * task makes the new job), and the job that carried it ends sooner, so the worker fetches other
 * tenants' jobs instead of holding this tenant's.
 */
export class TenantBusyError extends Error {
  override readonly name = 'TenantBusyError';
  constructor(readonly retryInMs: number) {
    super(`the tenant holds its share of the worker's delivery slots: the delivery comes back in ${retryInMs} ms`);
  }
}

/**
 * The longest a delivery beyond its tenant's share may expect to wait here for a slot (ms). Jobs
 * that carry such deliveries then end within about this long, so the worker's job slots keep
 * turning over and another tenant's job is fetched within a fraction of it.
 */
const MAX_EXPECTED_WAIT_MS = 1_000;
/** How often the deliveries waiting beyond their share are looked at again (ms). */
const REVIEW_MS = 50;
/** The shortest time a delivery sent back stays away (ms). */
const MIN_RETRY_MS = 50;

interface Waiter {
  grant: () => void;
  refuse: (error: Error) => void;
  /** It waits beyond its tenant's share, and may go back to the queue (it is not claimed yet). */
  returnable: boolean;
}

interface TenantSlots {
  inFlight: number;
  /** When each slot held started, oldest first (about: slots end in any order). */
  startedAt: number[];
  /** Its deliveries waiting here, first come first served. */
  waiters: Waiter[];
}

export interface DeliverySlotsOptions {
  /** WORKER_CONCURRENCY. */
  concurrency: number;
  /** Slots a tenant may always hold (WORKER_TENANT_SHARE of them, at least one). */
  tenantShare: number;
  /** The longest a delivery sent back stays away (DELIVERY_TIMEOUT). */
  maxBackoffMs: number;
  random?: () => number;
  now?: () => number;
}

/**
 * A worker's delivery slots (WORKER_CONCURRENCY): how many deliveries it attempts at once, whatever
 * jobs carry them (a `deliver_batch` job carries several). A delivery takes a slot before it is
 * claimed, and holds it until its attempt is recorded.
 *
 * Shared fairly between tenants. A tenant may always hold `tenantShare` slots; beyond that it
 * borrows idle ones only while `tenantShare` stay free for the others, so a tenant that starts
 * delivering finds a slot at once, however many slow deliveries another has queued. When a slot
 * comes free and deliveries wait for it, it goes to the waiting tenant with the fewest slots (and
 * within a tenant, to its first delivery waiting): borrowed slots come back at the next free slot,
 * not after the borrower's backlog.
 *
 * A delivery waits here for its slot if its tenant is under its share, if it is claimed already,
 * or if it can expect a slot within MAX_EXPECTED_WAIT_MS (its place among its tenant's waiting
 * deliveries, its tenant's slots and how long their attempts take). Any other goes back to the
 * queue (TenantBusyError), and so do waiting ones once their expected wait grows beyond that (the
 * tenant's attempts turned slow): a slow tenant's jobs do not hold the worker's job slots while
 * other tenants' jobs wait to be fetched.
 *
 * No contention (a slot free for the tenant, nobody waiting): a map lookup and a few counters.
 */
export class DeliverySlots {
  private readonly concurrency: number;
  private readonly share: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private used = 0;
  private waiting = 0;
  /** Returnable waiters: while there are any, a timer sends back those whose expected wait grew too long. */
  private returnable = 0;
  private reviewer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Tenants with slots held or deliveries waiting. */
  private readonly tenants = new Map<string, TenantSlots>();
  /** Moving average of how long each tenant's deliveries hold a slot (ms). */
  private readonly typicalMs = new BoundedMap<string, number>(10_000);

  constructor(options: DeliverySlotsOptions) {
    this.concurrency = options.concurrency;
    this.share = Math.max(1, Math.min(options.tenantShare, options.concurrency));
    this.maxBackoffMs = options.maxBackoffMs;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => performance.now());
  }

  /** How many deliveries of the tenant could start at once now, without waiting: none once closed. */
  roomFor(tenantId: string): number {
    if (this.closed) return 0;
    const tenant = this.tenants.get(tenantId);
    if (tenant && tenant.waiters.length > 0) return 0;
    const underShare = this.share - (tenant?.inFlight ?? 0);
    const borrowable = this.concurrency - this.share - this.used;
    return Math.max(0, Math.min(this.concurrency - this.used, Math.max(underShare, borrowable)));
  }

  /**
   * Runs `attempt` in a slot of the tenant's. Rejects with WorkerStoppingError once closed, and
   * with TenantBusyError when the delivery goes back to the queue; `mayGoBack` false (a claimed
   * delivery) waits for its slot instead.
   */
  async run<T>(tenantId: string, attempt: () => Promise<T>, mayGoBack = true): Promise<T> {
    if (this.closed) throw new WorkerStoppingError();
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      tenant = { inFlight: 0, startedAt: [], waiters: [] };
      this.tenants.set(tenantId, tenant);
    }
    if (this.mayStart(tenant)) this.take(tenant);
    else await this.wait(tenantId, tenant, mayGoBack);
    const started = this.now();
    try {
      return await attempt();
    } finally {
      this.release(tenantId, tenant, this.now() - started);
    }
  }

  /** Deliveries already started finish; those still waiting, and later ones, fail with WorkerStoppingError. */
  close(): void {
    this.closed = true;
    this.stopReviewing();
    for (const [tenantId, tenant] of this.tenants) {
      const waiters = tenant.waiters.splice(0);
      this.waiting -= waiters.length;
      for (const waiter of waiters) waiter.refuse(new WorkerStoppingError());
      if (tenant.inFlight === 0) this.tenants.delete(tenantId);
    }
    this.returnable = 0;
  }

  /**
   * Sends back the returnable deliveries whose expected wait has grown beyond MAX_EXPECTED_WAIT_MS
   * (a timer calls it every REVIEW_MS while there are any).
   */
  review(): void {
    for (const [tenantId, tenant] of this.tenants) {
      if (tenant.waiters.length === 0) continue;
      const kept = this.placesWithinWait(tenantId, tenant);
      if (tenant.waiters.length <= kept) continue;
      const late = tenant.waiters.slice(kept).filter((waiter) => waiter.returnable);
      if (late.length === 0) continue;
      tenant.waiters = tenant.waiters.filter((waiter, place) => place < kept || !waiter.returnable);
      this.waiting -= late.length;
      this.returnable -= late.length;
      const retryInMs = this.retryInMs(tenantId, tenant, kept + 1);
      for (const waiter of late) waiter.refuse(new TenantBusyError(retryInMs));
      if (tenant.inFlight === 0 && tenant.waiters.length === 0) this.tenants.delete(tenantId);
    }
    if (this.returnable === 0) this.stopReviewing();
  }

  private mayStart(tenant: TenantSlots): boolean {
    if (this.closed || this.used >= this.concurrency) return false;
    return tenant.inFlight < this.share || this.used + 1 + this.share <= this.concurrency;
  }

  private take(tenant: TenantSlots): void {
    this.used += 1;
    tenant.inFlight += 1;
    tenant.startedAt.push(this.now());
  }

  private wait(tenantId: string, tenant: TenantSlots, mayGoBack: boolean): Promise<void> {
    // A tenant under its share gets one of the next free slots: it waits, as a claimed delivery does.
    const returnable = mayGoBack && tenant.inFlight + tenant.waiters.length >= this.share;
    if (returnable && tenant.waiters.length >= this.placesWithinWait(tenantId, tenant)) {
      return Promise.reject(new TenantBusyError(this.retryInMs(tenantId, tenant, tenant.waiters.length + 1)));
    }
    return new Promise<void>((grant, refuse) => {
      tenant.waiters.push({ grant, refuse, returnable });
      this.waiting += 1;
      if (returnable) {
        this.returnable += 1;
        this.startReviewing();
      }
    });
  }

  private release(tenantId: string, tenant: TenantSlots, heldMs: number): void {
    this.used -= 1;
    tenant.inFlight -= 1;
    tenant.startedAt.shift();
    const typical = this.typicalMs.get(tenantId);
    this.typicalMs.set(tenantId, typical === undefined ? heldMs : typical * 0.8 + heldMs * 0.2);
    if (this.waiting > 0) this.grantFreeSlots();
    if (tenant.inFlight === 0 && tenant.waiters.length === 0 && this.tenants.get(tenantId) === tenant) this.tenants.delete(tenantId);
  }

  /** Free slots go to waiting deliveries, each to the waiting tenant with the fewest slots held. */
  private grantFreeSlots(): void {
    while (this.waiting > 0) {
      let next: TenantSlots | undefined;
      for (const tenant of this.tenants.values()) {
        if (tenant.waiters.length > 0 && (!next || tenant.inFlight < next.inFlight)) next = tenant;
      }
      // The tenant with the fewest slots may not take one: neither may any other.
      if (!next || !this.mayStart(next)) return;
      const waiter = next.waiters.shift()!;
      this.waiting -= 1;
      if (waiter.returnable) this.returnable -= 1;
      this.take(next);
      waiter.grant();
    }
  }

  /**
   * How many of the tenant's deliveries may wait here: those that can expect one of its slots
   * within MAX_EXPECTED_WAIT_MS, as its attempts in flight end one after another.
   */
  private placesWithinWait(tenantId: string, tenant: TenantSlots): number {
    const attemptMs = this.expectedMs(tenantId, tenant) ?? 0;
    if (attemptMs <= 0) return Infinity;
    return Math.floor(MAX_EXPECTED_WAIT_MS / attemptMs) * Math.max(1, tenant.inFlight);
  }

  /** How long the delivery at `place` among the tenant's waiting ones can expect to wait, jittered and bounded. */
  private retryInMs(tenantId: string, tenant: TenantSlots, place: number): number {
    const attemptMs = this.expectedMs(tenantId, tenant) ?? 0;
    const expected = Math.ceil(place / Math.max(1, tenant.inFlight)) * attemptMs;
    const bounded = Math.min(this.maxBackoffMs, Math.max(MIN_RETRY_MS, expected));
    return Math.round(bounded * (0.5 + this.random()));
  }

  /** How long the tenant's deliveries hold a slot: the moving average, or longer if one held now has been held longer. */
  private expectedMs(tenantId: string, tenant: TenantSlots): number | undefined {
    const typical = this.typicalMs.get(tenantId);
    const oldest = tenant.startedAt[0];
    if (oldest === undefined) return typical;
    return Math.max(typical ?? 0, this.now() - oldest);
  }

  private startReviewing(): void {
    if (this.reviewer) return;
    this.reviewer = setInterval(() => this.review(), REVIEW_MS);
    this.reviewer.unref();
  }

  private stopReviewing(): void {
    clearInterval(this.reviewer);
    this.reviewer = undefined;
  }
}
