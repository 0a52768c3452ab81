import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import { platformTransaction } from '../db/tenant-scope.js';
import { StartupError } from '../errors.js';
import { isSealed, SEALED_LIKE, SealedSecretError, type SecretBox } from './secret-box.js';

/** Subscriptions sealed again per transaction: short transactions on a large table. */
export const RESEAL_BATCH_SIZE = 500;

const keyInUse = 'this SECRETS_KEY (or, unset, the development key in DATA_DIR)';

interface StoredSecrets {
  id: string;
  secrets: string[];
  ed25519_secret_key: string | null;
}

/**
 * Seals again, bound to their rows, the subscription secrets that earlier releases stored unbound
 * (`enc1:`) or unsealed, across every tenant, `batchSize` subscriptions per transaction; after it,
 * SecretBox.open accepts only the current format. Run at start-up by the process that holds the
 * migration lock, after the migrations: it needs SECRETS_KEY, which SQL does not have. First it
 * checks that the key opens the newest sealed secret: a wrong key would seal unsealed values where
 * the right one cannot open them, and would fail every delivery. Either failure stops start-up.
 * With nothing to seal again it costs two queries. Returns how many subscriptions it sealed again.
 */
export async function resealSubscriptionSecrets(
  db: Database,
  box: SecretBox,
  logger: Logger,
  batchSize = RESEAL_BATCH_SIZE,
): Promise<number> {
  await platformTransaction(db, async (tx) => {
    const [newest] = (await tx.execute(sql`
      select id, secrets[1] as stored from subscriptions where secrets[1] like 'enc_:%' order by id desc limit 1`)) as unknown as { id: string; stored: string }[];
    if (!newest) return;
    try {
      if (isSealed(newest.stored)) box.open(newest.stored, newest.id);
      else box.reseal(newest.stored, newest.id);
    } catch (error) {
      if (!(error instanceof SealedSecretError)) throw error;
      throw new StartupError(
        `The signing secret of subscription ${newest.id} cannot be opened with ${keyInUse}: another key sealed the secrets, or the value was altered`,
        'start with the SECRETS_KEY that sealed them, the same in every process',
        { cause: error },
      );
    }
  });
  let after = '';
  let resealed = 0;
  for (;;) {
    const count = await platformTransaction(db, async (tx) => {
      const rows = (await tx.execute(sql`
        select id, secrets, ed25519_secret_key from subscriptions
        where id > ${after}
          and (exists (select from unnest(secrets) as stored where stored not like ${SEALED_LIKE})
               or ed25519_secret_key not like ${SEALED_LIKE})
        order by id
        limit ${batchSize}
        for update`)) as unknown as StoredSecrets[];
      if (rows.length === 0) return 0;
      const updates = rows.map((row) => ({
        id: row.id,
        secrets: row.secrets.map((stored) => resealOne(box, stored, row.id)),
        ed25519: row.ed25519_secret_key === null ? null : resealOne(box, row.ed25519_secret_key, row.id),
      }));
      await tx.execute(sql`
        update subscriptions as s
        set secrets = array(
              select e.value from jsonb_array_elements_text(u.value -> 'secrets') with ordinality as e(value, n) order by e.n),
            ed25519_secret_key = u.value ->> 'ed25519'
        from jsonb_array_elements(${JSON.stringify(updates)}::jsonb) as u
        where s.id = u.value ->> 'id'`);
      after = rows.at(-1)!.id;
      return rows.length;
    });
    resealed += count;
    if (count < batchSize) break;
  }
  if (resealed > 0) logger.info({ subscriptions: resealed }, 'signing secrets sealed again, bound to their subscriptions');
  return resealed;
}

function resealOne(box: SecretBox, stored: string, subscriptionId: string): string {
  if (isSealed(stored)) return stored;
  try {
    return box.reseal(stored, subscriptionId);
  } catch (error) {
    if (!(error instanceof SealedSecretError)) throw error;
    throw new StartupError(
      `A signing secret of subscription ${subscriptionId}, stored by an earlier release, cannot be opened with ${keyInUse} to be sealed again: another key sealed it, or it was altered`,
      'start with the SECRETS_KEY that sealed it, the same in every process',
      { cause: error },
    );
  }
}
