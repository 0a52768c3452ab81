import { createEventType } from './graphql-helpers.js';
import type { TestHooklane } from './hooklane.js';
import { TestReceiver } from './receiver.js';

/** Receivers started during a test file, all closed by one call in afterAll. */
export function receiverPool() {
  const receivers: TestReceiver[] = [];
  return {
    async start(): Promise<TestReceiver> {
      const receiver = await TestReceiver.start();
      receivers.push(receiver);
      return receiver;
    },
    async closeAll(): Promise<void> {
      await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    },
  };
}

/** A fresh tenant with one event type, so that tests sharing an instance never see each other's work. */
export async function tenantWithEventType(hooklane: TestHooklane, eventType = 'order.created') {
  const tenant = await hooklane.createTenant();
  await createEventType(hooklane, tenant.token, { name: eventType });
  return tenant;
}
