import type { ShardedDatabase } from '@saldo/sharding';
import type { Logger } from '@saldo/service';
import { v7 as uuidv7 } from 'uuid';
import { AcmeCa, type AcmeSettings } from '../acme/acme-ca.js';
import { AcmeAccount } from '../entities/acme-account.js';
import type { SecretBox } from '@saldo/secrets';

/**
 * The platform's ACME account: its key is created once (by whichever instance needs it first, under an advisory
 * lock), sealed in the control database, and reused by every instance afterwards.
 */
export class AcmeAccountService {
  private current: Promise<{ account: AcmeAccount; ca: AcmeCa }> | undefined;

  constructor(
    private readonly db: ShardedDatabase,
    private readonly box: SecretBox,
    private readonly settings: AcmeSettings,
    private readonly logger: Logger,
  ) {}

  /** The account row and a client for it (registered at the CA on first use in this process). */
  get(): Promise<{ account: AcmeAccount; ca: AcmeCa }> {
    this.current ??= this.load().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  private async load(): Promise<{ account: AcmeAccount; ca: AcmeCa }> {
    const directoryUrl = this.settings.directoryUrl;
    const account = await this.db.globalEm().transactional(async (em) => {
      await em.execute('select pg_advisory_xact_lock(hashtext(?))', [`acme-account:${directoryUrl}`]);
      const existing = await em.findOne(AcmeAccount, { directoryUrl });
      if (existing) return existing;
      const id = uuidv7();
      const created = em.create(AcmeAccount, { id, directoryUrl, keySealed: this.box.seal(await AcmeCa.createAccountKey(), `acme_account:${id}`) });
      this.logger.info('ACME account key created', { directoryUrl });
      return created;
    });
    const ca = new AcmeCa(this.settings, this.box.open(account.keySealed, `acme_account:${account.id}`), this.logger);
    const accountUrl = await ca.register();
    if (accountUrl !== account.accountUrl) {
      await this.db.globalEm().nativeUpdate(AcmeAccount, { id: account.id }, { accountUrl });
      account.accountUrl = accountUrl;
    }
    return { account, ca };
  }
}
