import { ENDPOINT_DISABLED_KIND } from './kinds.js';

export type Language = 'en' | 'de';
export const LANGUAGES: readonly Language[] = ['en', 'de'];

/** The branding a message is rendered with (resolved: tenant, else partner, else platform). */
export interface MailBranding {
  displayName: string;
  primaryColor: string;
  accentColor: string;
  logoUrl: string | null;
  supportEmail: string | null;
}

/** What a notification says, in one language: the live feed and the log keep title and body; mail adds the parts. */
export interface RenderedNotification {
  title: string;
  body: string;
  facts: Array<[label: string, value: string]>;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** The sender's display name (the brand), safe for a header. */
  fromName: string;
}

type Data = Record<string, unknown>;
type Texts = (data: Data, format: Formatters) => RenderedNotification;

interface Formatters {
  money(minor: unknown, currency: unknown): string;
  date(iso: unknown): string;
  number(value: unknown, digits?: number): string;
}

/** Intl formatters are costly to build and safe to share: one per locale and style, built on first use. */
const intlCache = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function cached<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, build: () => T): T {
  let formatter = intlCache.get(key) as T | undefined;
  if (!formatter) {
    formatter = build();
    intlCache.set(key, formatter);
  }
  return formatter;
}

const FORMATTERS: Record<Language, Formatters> = { en: formatters('en'), de: formatters('de') };

function formatters(language: Language): Formatters {
  const locale = language === 'de' ? 'de-DE' : 'en-GB';
  return {
    money(minor, currency) {
      if (typeof minor !== 'string' || typeof currency !== 'string') return '—';
      const format = cached(`${locale}:${currency}`, () => new Intl.NumberFormat(locale, { style: 'currency', currency }));
      const exponent = format.resolvedOptions().maximumFractionDigits ?? 2;
      // Exact: the minor units become a decimal string (Intl formats strings without going through a float).
      const negative = minor.startsWith('-');
      const digits = (negative ? minor.slice(1) : minor).padStart(exponent + 1, '0');
      const decimal = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
      return format.format(`${negative ? '-' : ''}${decimal}` as unknown as number);
    },
    date(iso) {
      if (typeof iso !== 'string') return '—';
      return (
        cached(`${locale}:date`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })).format(new Date(iso)) +
        ' UTC'
      );
    },
    number(value, digits = 1) {
      return typeof value === 'number'
        ? cached(`${locale}:n${digits}`, () => new Intl.NumberFormat(locale, { maximumFractionDigits: digits })).format(value)
        : '—';
    },
  };
}

const DOCUMENT_KINDS: Record<Language, Record<string, string>> = {
  en: { INVOICE: 'Invoice', CREDIT_NOTE: 'Credit note', STATEMENT: 'Statement' },
  de: { INVOICE: 'Rechnung', CREDIT_NOTE: 'Gutschrift', STATEMENT: 'Kontoauszug' },
};

function signals(data: Data): string {
  return ((data['signals'] as Array<{ kind: string; detail: string }> | undefined) ?? []).map((signal) => `${signal.kind}: ${signal.detail}`).join('; ');
}

function totals(data: Data): Record<string, unknown> {
  return (data['totals'] as Record<string, unknown> | undefined) ?? {};
}

/** Per kind and language: title, body and the facts listed under it. */
const TEXTS: Record<string, Record<Language, Texts>> = {
  'balance.low': {
    en: (d, f) => ({
      title: 'Your balance is low',
      body: `Your prepaid balance fell to ${f.money(d['balanceMinor'], d['currency'])}, below your alert threshold of ${f.money(d['thresholdMinor'], d['currency'])}. Top up to keep your service running.`,
      facts: [
        ['Balance', f.money(d['balanceMinor'], d['currency'])],
        ['Threshold', f.money(d['thresholdMinor'], d['currency'])],
        ['Time', f.date(d['crossedAt'])],
      ],
    }),
    de: (d, f) => ({
      title: 'Ihr Guthaben ist niedrig',
      body: `Ihr Prepaid-Guthaben ist auf ${f.money(d['balanceMinor'], d['currency'])} gefallen und liegt unter Ihrer Warnschwelle von ${f.money(d['thresholdMinor'], d['currency'])}. Laden Sie Guthaben auf, damit Ihr Dienst weiterläuft.`,
      facts: [
        ['Guthaben', f.money(d['balanceMinor'], d['currency'])],
        ['Warnschwelle', f.money(d['thresholdMinor'], d['currency'])],
        ['Zeitpunkt', f.date(d['crossedAt'])],
      ],
    }),
  },
  'balance.depleted': {
    en: (d, f) => ({
      title: 'Your balance is used up',
      body: `Your prepaid balance is now ${f.money(d['balanceMinor'], d['currency'])}. Usage may be refused until you top up.`,
      facts: [
        ['Balance', f.money(d['balanceMinor'], d['currency'])],
        ['Time', f.date(d['depletedAt'])],
      ],
    }),
    de: (d, f) => ({
      title: 'Ihr Guthaben ist aufgebraucht',
      body: `Ihr Prepaid-Guthaben beträgt jetzt ${f.money(d['balanceMinor'], d['currency'])}. Nutzung kann abgelehnt werden, bis Sie Guthaben aufladen.`,
      facts: [
        ['Guthaben', f.money(d['balanceMinor'], d['currency'])],
        ['Zeitpunkt', f.date(d['depletedAt'])],
      ],
    }),
  },
  'auto_top_up.failed': {
    en: (d, f) => ({
      title: 'Automatic top-up declined',
      body: `We could not charge ${f.money(d['amountMinor'], d['currency'])} to your saved payment method (${String(d['declineCode'] ?? d['failureCode'])}). Please update your payment method or top up by hand. We will not try again before ${f.date(d['nextAttemptAfter'])}.`,
      facts: [
        ['Amount', f.money(d['amountMinor'], d['currency'])],
        ['Balance', f.money(d['balanceMinor'], d['currency'])],
        ['Reason', String(d['message'] ?? '')],
      ],
    }),
    de: (d, f) => ({
      title: 'Automatische Aufladung abgelehnt',
      body: `Wir konnten ${f.money(d['amountMinor'], d['currency'])} nicht von Ihrer hinterlegten Zahlungsmethode abbuchen (${String(d['declineCode'] ?? d['failureCode'])}). Bitte aktualisieren Sie Ihre Zahlungsmethode oder laden Sie manuell auf. Vor ${f.date(d['nextAttemptAfter'])} versuchen wir es nicht erneut.`,
      facts: [
        ['Betrag', f.money(d['amountMinor'], d['currency'])],
        ['Guthaben', f.money(d['balanceMinor'], d['currency'])],
        ['Grund', String(d['message'] ?? '')],
      ],
    }),
  },
  'auto_top_up.succeeded': {
    en: (d, f) => ({
      title: 'Balance topped up automatically',
      body: `We charged ${f.money(d['amountMinor'], d['currency'])} to your saved payment method. Your balance is now ${f.money(d['balanceMinor'], d['currency'])}.`,
      facts: [
        ['Amount', f.money(d['amountMinor'], d['currency'])],
        ['Balance', f.money(d['balanceMinor'], d['currency'])],
        ['Time', f.date(d['succeededAt'])],
      ],
    }),
    de: (d, f) => ({
      title: 'Guthaben automatisch aufgeladen',
      body: `Wir haben ${f.money(d['amountMinor'], d['currency'])} von Ihrer hinterlegten Zahlungsmethode abgebucht. Ihr Guthaben beträgt jetzt ${f.money(d['balanceMinor'], d['currency'])}.`,
      facts: [
        ['Betrag', f.money(d['amountMinor'], d['currency'])],
        ['Guthaben', f.money(d['balanceMinor'], d['currency'])],
        ['Zeitpunkt', f.date(d['succeededAt'])],
      ],
    }),
  },
  'document.issued': {
    en: (d, f) => ({
      title: `${DOCUMENT_KINDS.en[String(d['kind'])] ?? 'Document'} ${String(d['number'])}`,
      body: `Your ${(DOCUMENT_KINDS.en[String(d['kind'])] ?? 'document').toLowerCase()} ${String(d['number'])} was issued. ${d['pdfUrl'] ? 'The PDF is attached.' : 'You find the PDF in your portal.'}`,
      facts: [
        ['Number', String(d['number'])],
        ['Total', f.money(totals(d)['grossMinor'], d['currency'])],
        ['Issued', f.date(d['issuedAt'])],
      ],
    }),
    de: (d, f) => ({
      title: `${DOCUMENT_KINDS.de[String(d['kind'])] ?? 'Dokument'} ${String(d['number'])}`,
      body: `Ihre ${DOCUMENT_KINDS.de[String(d['kind'])] ?? 'Dokument'} ${String(d['number'])} wurde ausgestellt. ${d['pdfUrl'] ? 'Das PDF finden Sie im Anhang.' : 'Das PDF finden Sie in Ihrem Portal.'}`,
      facts: [
        ['Nummer', String(d['number'])],
        ['Summe', f.money(totals(d)['grossMinor'], d['currency'])],
        ['Ausgestellt', f.date(d['issuedAt'])],
      ],
    }),
  },
  'forecast.depletion_soon': {
    en: (d, f) => ({
      title: 'Your balance will run out soon',
      body: `At your current usage your balance of ${f.money(d['balanceMinor'], d['currency'])} lasts about ${f.number(d['daysLeft'])} more days (until ${String(d['depletionDate'])}).`,
      facts: [
        ['Balance', f.money(d['balanceMinor'], d['currency'])],
        ['Days left', f.number(d['daysLeft'])],
        ['Expected', String(d['depletionDate'])],
      ],
    }),
    de: (d, f) => ({
      title: 'Ihr Guthaben reicht nicht mehr lange',
      body: `Bei Ihrer aktuellen Nutzung reicht Ihr Guthaben von ${f.money(d['balanceMinor'], d['currency'])} noch etwa ${f.number(d['daysLeft'])} Tage (bis ${String(d['depletionDate'])}).`,
      facts: [
        ['Guthaben', f.money(d['balanceMinor'], d['currency'])],
        ['Verbleibende Tage', f.number(d['daysLeft'])],
        ['Voraussichtlich', String(d['depletionDate'])],
      ],
    }),
  },
  'anomaly.detected': {
    en: (d, f) => ({
      title: 'Unusual usage detected',
      body: `Your usage looks unusual (${f.number(d['observed'])} in one ${String(d['granularity']).toLowerCase()} where about ${f.number(d['expected'])} was expected). Please check that it is yours.`,
      facts: [
        ['Severity', String(d['severity'])],
        ['Observed', f.number(d['observed'])],
        ['Expected', f.number(d['expected'])],
      ],
    }),
    de: (d, f) => ({
      title: 'Ungewöhnliche Nutzung erkannt',
      body: `Ihre Nutzung wirkt ungewöhnlich (${f.number(d['observed'])} statt etwa ${f.number(d['expected'])} in ${d['granularity'] === 'HOUR' ? 'einer Stunde' : 'einem Tag'}). Bitte prüfen Sie, ob sie von Ihnen stammt.`,
      facts: [
        ['Schweregrad', String(d['severity'])],
        ['Beobachtet', f.number(d['observed'])],
        ['Erwartet', f.number(d['expected'])],
      ],
    }),
  },
  'fraud.case_opened': {
    en: (d, f) => ({
      title: `Fraud case opened for tenant ${String(d['tenantId'])}`,
      body: `A fraud case was opened (severity ${String(d['severity'])}, score ${f.number(d['score'], 1)}): ${signals(d)}`,
      facts: [
        ['Tenant', String(d['tenantId'])],
        ['Case', String(d['caseId'])],
        ['Opened', f.date(d['openedAt'])],
      ],
    }),
    de: (d, f) => ({
      title: `Betrugsfall für Mandant ${String(d['tenantId'])} eröffnet`,
      body: `Ein Betrugsfall wurde eröffnet (Schweregrad ${String(d['severity'])}, Score ${f.number(d['score'], 1)}): ${signals(d)}`,
      facts: [
        ['Mandant', String(d['tenantId'])],
        ['Fall', String(d['caseId'])],
        ['Eröffnet', f.date(d['openedAt'])],
      ],
    }),
  },
  [ENDPOINT_DISABLED_KIND]: {
    en: (d, f) => ({
      title: 'Webhook endpoint disabled',
      body: `Deliveries to ${String(d['url'])} kept failing for ${f.number(d['failingHours'], 0)} hours, so the endpoint was disabled. Fix the receiver, enable the endpoint again and redeliver what it missed.`,
      facts: [
        ['Endpoint', String(d['url'])],
        ['Last error', String(d['lastError'] ?? '')],
        ['Disabled', f.date(d['disabledAt'])],
      ],
    }),
    de: (d, f) => ({
      title: 'Webhook-Endpunkt deaktiviert',
      body: `Zustellungen an ${String(d['url'])} sind ${f.number(d['failingHours'], 0)} Stunden lang fehlgeschlagen, daher wurde der Endpunkt deaktiviert. Beheben Sie den Fehler beim Empfänger, aktivieren Sie den Endpunkt wieder und stellen Sie Verpasstes erneut zu.`,
      facts: [
        ['Endpunkt', String(d['url'])],
        ['Letzter Fehler', String(d['lastError'] ?? '')],
        ['Deaktiviert', f.date(d['disabledAt'])],
      ],
    }),
  },
};

const FOOTER: Record<Language, { why: string; support: string }> = {
  en: { why: 'You receive this message because your address is a notification recipient of this account.', support: 'Questions? Write to' },
  de: {
    why: 'Sie erhalten diese Nachricht, weil Ihre Adresse als Empfänger von Benachrichtigungen dieses Kontos eingetragen ist.',
    support: 'Fragen? Schreiben Sie an',
  },
};

export function renderNotification(kind: string, language: Language, data: Data): RenderedNotification {
  const texts = TEXTS[kind];
  if (!texts) throw new Error(`No template for notification kind ${kind}`);
  return texts[language](data, FORMATTERS[language]);
}

/** The mail for a notification: subject, plain-text part and HTML part, branded; every value escaped for its context. */
export function renderMail(rendered: RenderedNotification, language: Language, branding: MailBranding): RenderedMail {
  const brand = safeBranding(branding);
  const footer = FOOTER[language];
  const subject = headerText(`${brand.displayName}: ${rendered.title}`);
  const text = [
    rendered.title,
    '',
    rendered.body,
    '',
    ...rendered.facts.map(([label, value]) => `${label}: ${value}`),
    '',
    '-- ',
    brand.displayName,
    footer.why,
    ...(brand.supportEmail ? [`${footer.support} ${brand.supportEmail}`] : []),
    '',
  ].join('\n');
  const logo = brand.logoUrl
    ? `<img src="${escapeAttribute(brand.logoUrl)}" alt="${escapeAttribute(brand.displayName)}" height="32" style="height:32px;border:0">`
    : `<span style="font-size:20px;font-weight:bold;color:#FFFFFF">${escapeHtml(brand.displayName)}</span>`;
  const facts = rendered.facts
    .map(
      ([label, value]) =>
        `<tr><td style="padding:4px 12px 4px 0;color:#555555">${escapeHtml(label)}</td><td style="padding:4px 0"><strong>${escapeHtml(value)}</strong></td></tr>`,
    )
    .join('');
  const html = `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:0;background:#F4F4F5;font-family:Helvetica,Arial,sans-serif;color:#18181B">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="background:#FFFFFF;border-top:4px solid ${brand.accentColor}">
<tr><td style="background:${brand.primaryColor};padding:16px 24px">${logo}</td></tr>
<tr><td style="padding:24px"><h1 style="font-size:20px;margin:0 0 12px;color:${brand.primaryColor}">${escapeHtml(rendered.title)}</h1>
<p style="line-height:1.5;margin:0 0 16px">${escapeHtml(rendered.body)}</p>
<table role="presentation" cellpadding="0" cellspacing="0">${facts}</table></td></tr>
<tr><td style="padding:16px 24px;font-size:12px;color:#71717A;border-top:1px solid #E4E4E7">${escapeHtml(footer.why)}${
    brand.supportEmail
      ? `<br>${escapeHtml(footer.support)} <a href="mailto:${escapeAttribute(brand.supportEmail)}" style="color:${brand.accentColor}">${escapeHtml(brand.supportEmail)}</a>`
      : ''
  }</td></tr>
</table></td></tr></table></body></html>`;
  return { subject, text, html, fromName: headerText(brand.displayName) };
}

const HEX_COLOR = /^#[0-9A-Fa-f]{6}$/;

/** Branding as it may appear in CSS, attributes and headers: colors must be hex, the logo an https URL. */
function safeBranding(branding: MailBranding): MailBranding {
  return {
    displayName: branding.displayName,
    primaryColor: HEX_COLOR.test(branding.primaryColor) ? branding.primaryColor : '#0F766E',
    accentColor: HEX_COLOR.test(branding.accentColor) ? branding.accentColor : '#F59E0B',
    logoUrl: branding.logoUrl && /^https:\/\/[^\s"'<>]+$/.test(branding.logoUrl) ? branding.logoUrl : null,
    supportEmail: branding.supportEmail && /^[^\s"'<>@]+@[^\s"'<>@]+$/.test(branding.supportEmail) ? branding.supportEmail : null,
  };
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text content of an HTML element. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]!);
}

/** A double-quoted attribute value (the same set covers it; kept separate so each use names its context). */
export function escapeAttribute(value: string): string {
  return escapeHtml(value);
}

/** A header value: no line breaks (header injection) and no control characters. */
export function headerText(value: string): string {
  return value
    .replace(/[\u0000-\u001F\u007F]+/g, ' ') // eslint-disable-line no-control-regex
    .trim()
    .slice(0, 200);
}
