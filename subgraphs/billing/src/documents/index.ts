// The documents module's public surface: other modules and definition.ts import only from here (eslint enforces it).
export { documentsModule, createDocumentServices, type DocumentOverrides } from './module.js';
export type { DocumentServices, DocumentsContext } from './graphql/context.js';
export { checkDocumentsConfig, documentsConfigFields, platformIssuer } from './config.js';
export { DocumentService, previousMonth, type TopUpTaxQuote } from './services/document-service.js';
export { DocumentKind, type DocumentContent } from './model.js';
export type { StoredDocument } from './journal.js';
export { DOWNLOAD_PATH, DownloadLinks } from './download-links.js';
export { renderDocumentPdf, warmUpRenderer } from './pdf/render.js';
export { renderCii } from './einvoice/cii.js';
export { SAMPLE_ISSUER_ENV, SAMPLE_LOGO_DATA_URI, sampleCreditNote, sampleInvoice, sampleStatement } from './samples.js';
