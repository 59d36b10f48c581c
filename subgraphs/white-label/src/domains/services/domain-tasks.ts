/**
 * Background work custom domains need (durable jobs on the shared queue): obtaining a certificate and bringing the
 * web server in line. Services ask for it; the job layer (domains/jobs.ts) decides when and where it runs.
 */
export interface DomainTasks {
  /** Obtain (or renew) the domain's certificate, at `at` or as soon as possible. */
  issue(domainId: string, at?: Date): Promise<void>;
  /** Bring the web server in line with the domains (coalesced: many requests, one reload). */
  syncWebServer(): Promise<void>;
  /** Revoke a removed domain's certificate at the CA. */
  revoke(certificateId: string): Promise<void>;
}

/** No background work (no web server configured, or a test driving the steps itself). */
export const NO_DOMAIN_TASKS: DomainTasks = {
  issue: async () => {},
  syncWebServer: async () => {},
  revoke: async () => {},
};
