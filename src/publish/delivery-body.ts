import type { PayloadMode } from '../db/schema.js';

/**
 * The body every delivery of an event sends, byte for byte, and the bytes its signatures cover.
 * Built once at publish time so that attempts sign and send stored bytes.
 */
export function deliveryBody(eventType: string, createdAt: Date, payload: unknown): string {
  return `{"type":${JSON.stringify(eventType)},"timestamp":${JSON.stringify(createdAt.toISOString())},"data":${JSON.stringify(payload)}}`;
}

/** The body for a subscription's payload mode: THIN carries only the event id for the receiver to fetch. */
export function bodyForMode(
  mode: PayloadMode,
  event: { id: string; eventType: string; createdAt: Date; body: string },
): string {
  return mode === 'THIN' ? deliveryBody(event.eventType, event.createdAt, { id: event.id }) : event.body;
}
