import { AcmeAccount } from './acme-account.js';
import { AcmeChallenge } from './acme-challenge.js';
import { CertificateOrder } from './certificate-order.js';
import { CustomDomain } from './custom-domain.js';
import { DomainCertificate } from './domain-certificate.js';

export { AcmeAccount, AcmeChallenge, CertificateOrder, CustomDomain, DomainCertificate };
export { DomainPurpose, DomainStatus, ONE_HOLDER_PER_HOSTNAME } from './custom-domain.js';
export { OrderKind, OrderState, ONE_PENDING_ORDER_PER_DOMAIN } from './certificate-order.js';

/** The control-database entities of custom domains. */
export const domainEntities = [CustomDomain, DomainCertificate, CertificateOrder, AcmeAccount, AcmeChallenge];
