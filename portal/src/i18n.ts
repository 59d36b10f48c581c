import { createContext, useContext } from 'react';

export type Language = 'en' | 'de';

const en = {
  'app.title': 'Customer portal',
  'nav.skip': 'Skip to content',
  'nav.main': 'Main navigation',
  'nav.dashboard': 'Dashboard',
  'nav.tenants': 'Tenants',
  'nav.signOut': 'Sign out',
  'nav.language': 'Deutsch',
  'nav.languageLabel': 'Auf Deutsch umschalten',
  'signIn.title': 'Sign in',
  'signIn.lead': 'Sign in to see your balance live, top up and fetch your invoices.',
  'signIn.button': 'Sign in',
  'signIn.development': 'Development: the embedded stack lists its demo users by role.',
  'signIn.failed': 'Sign-in failed',
  'signIn.working': 'Signing in…',
  'signIn.expired': 'Your session ended. Please sign in again.',
  loading: 'Loading…',
  retry: 'Try again',
  'dashboard.balance': 'Balance',
  'dashboard.live': 'Live',
  'dashboard.connecting': 'Connecting…',
  'dashboard.updated': 'Updated {time}',
  'dashboard.depletion': 'Runs out',
  'dashboard.depletionRange': 'between {earliest} and {latest}',
  'dashboard.depletionOpen': 'from {earliest} on',
  'dashboard.depletionNone': 'Not within 90 days',
  'dashboard.confidence': '{percent} likely in that range',
  'dashboard.usage': 'Usage: last 30 days and 7-day forecast',
  'dashboard.chartSummary': '{total} units in the last 30 days; {forecast} units forecast for the next 7 days.',
  'dashboard.legendUsage': 'Usage per day',
  'dashboard.legendForecast': 'Forecast',
  'dashboard.legendRange': '80 % range',
  'dashboard.noUsage': 'No usage in the last 30 days.',
  'dashboard.suspended': 'This account is suspended.',
  'tenants.title': 'Tenants',
  'tenants.name': 'Tenant',
  'tenants.partner': 'Partner',
  'tenants.balance': 'Balance',
  'tenants.status': 'Status',
  'tenants.empty': 'No tenants yet.',
  'tenants.more': 'Show more',
  notFound: 'This tenant does not exist or is not yours.',
  'role.platform-admin': 'Platform operator',
  'role.partner': 'Partner',
  'role.tenant-admin': 'Administrator',
  'role.tenant-member': 'Member',
  'status.ACTIVE': 'Active',
  'status.SUSPENDED': 'Suspended',
  'error.generic': 'Something went wrong ({code}).',
  'error.NETWORK_ERROR': 'The server could not be reached. Check your connection.',
  'error.UNAUTHENTICATED': 'You are not signed in, or your session ended.',
  'error.FORBIDDEN': 'You may not do this.',
  'error.TENANT_NOT_FOUND': 'This tenant does not exist or is not yours.',
  'error.RATE_LIMITED': 'Too many requests. Please wait a moment.',
  'error.INTERNAL_SERVER_ERROR': 'The server had a problem. Please try again.',
  'error.SUBGRAPH_UNAVAILABLE': 'A service is unavailable right now. Please try again shortly.',
  'error.BAD_USER_INPUT': 'The input was not accepted.',
  'error.DAYS_OUT_OF_RANGE': 'That period is not available.',
  'error.access_denied': 'Sign-in was cancelled.',
  'error.login_required': 'Please sign in.',
  'error.invalid_state': 'The sign-in could not be completed. Please try again.',
  'error.token_exchange_failed': 'The sign-in could not be completed. Please try again.',
};

export type MessageKey = keyof typeof en;

const de: Record<MessageKey, string> = {
  'app.title': 'Kundenportal',
  'nav.skip': 'Zum Inhalt springen',
  'nav.main': 'Hauptnavigation',
  'nav.dashboard': 'Übersicht',
  'nav.tenants': 'Kunden',
  'nav.signOut': 'Abmelden',
  'nav.language': 'English',
  'nav.languageLabel': 'Switch to English',
  'signIn.title': 'Anmelden',
  'signIn.lead': 'Melden Sie sich an, um Ihr Guthaben live zu sehen, aufzuladen und Ihre Rechnungen abzurufen.',
  'signIn.button': 'Anmelden',
  'signIn.development': 'Entwicklung: Der eingebettete Stack listet seine Demo-Benutzer nach Rolle.',
  'signIn.failed': 'Anmeldung fehlgeschlagen',
  'signIn.working': 'Anmeldung läuft…',
  'signIn.expired': 'Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.',
  loading: 'Wird geladen…',
  retry: 'Erneut versuchen',
  'dashboard.balance': 'Guthaben',
  'dashboard.live': 'Live',
  'dashboard.connecting': 'Verbinde…',
  'dashboard.updated': 'Aktualisiert {time}',
  'dashboard.depletion': 'Aufgebraucht',
  'dashboard.depletionRange': 'zwischen {earliest} und {latest}',
  'dashboard.depletionOpen': 'ab {earliest}',
  'dashboard.depletionNone': 'Nicht innerhalb von 90 Tagen',
  'dashboard.confidence': 'mit {percent} Wahrscheinlichkeit in diesem Zeitraum',
  'dashboard.usage': 'Verbrauch: letzte 30 Tage und Prognose für 7 Tage',
  'dashboard.chartSummary': '{total} Einheiten in den letzten 30 Tagen; {forecast} Einheiten für die nächsten 7 Tage prognostiziert.',
  'dashboard.legendUsage': 'Verbrauch pro Tag',
  'dashboard.legendForecast': 'Prognose',
  'dashboard.legendRange': '80-%-Bereich',
  'dashboard.noUsage': 'Kein Verbrauch in den letzten 30 Tagen.',
  'dashboard.suspended': 'Dieses Konto ist gesperrt.',
  'tenants.title': 'Kunden',
  'tenants.name': 'Kunde',
  'tenants.partner': 'Partner',
  'tenants.balance': 'Guthaben',
  'tenants.status': 'Status',
  'tenants.empty': 'Noch keine Kunden.',
  'tenants.more': 'Mehr anzeigen',
  notFound: 'Diesen Kunden gibt es nicht, oder er gehört nicht zu Ihnen.',
  'role.platform-admin': 'Plattformbetrieb',
  'role.partner': 'Partner',
  'role.tenant-admin': 'Administrator',
  'role.tenant-member': 'Mitglied',
  'status.ACTIVE': 'Aktiv',
  'status.SUSPENDED': 'Gesperrt',
  'error.generic': 'Etwas ist schiefgelaufen ({code}).',
  'error.NETWORK_ERROR': 'Der Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung.',
  'error.UNAUTHENTICATED': 'Sie sind nicht angemeldet, oder Ihre Sitzung ist abgelaufen.',
  'error.FORBIDDEN': 'Dazu sind Sie nicht berechtigt.',
  'error.TENANT_NOT_FOUND': 'Diesen Kunden gibt es nicht, oder er gehört nicht zu Ihnen.',
  'error.RATE_LIMITED': 'Zu viele Anfragen. Bitte warten Sie einen Moment.',
  'error.INTERNAL_SERVER_ERROR': 'Beim Server ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.',
  'error.SUBGRAPH_UNAVAILABLE': 'Ein Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.',
  'error.BAD_USER_INPUT': 'Die Eingabe wurde nicht angenommen.',
  'error.DAYS_OUT_OF_RANGE': 'Dieser Zeitraum ist nicht verfügbar.',
  'error.access_denied': 'Die Anmeldung wurde abgebrochen.',
  'error.login_required': 'Bitte melden Sie sich an.',
  'error.invalid_state': 'Die Anmeldung konnte nicht abgeschlossen werden. Bitte versuchen Sie es erneut.',
  'error.token_exchange_failed': 'Die Anmeldung konnte nicht abgeschlossen werden. Bitte versuchen Sie es erneut.',
};

export const MESSAGES: Record<Language, Record<MessageKey, string>> = { en, de };

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

export function translator(language: Language): Translate {
  const messages = MESSAGES[language];
  return (key, values) => messages[key].replace(/\{(\w+)\}/g, (_, name: string) => String(values?.[name] ?? `{${name}}`));
}

/** A GraphQL error code in words (its code stays visible for support). */
export function errorText(t: Translate, code: string): string {
  const key = `error.${code}` as MessageKey;
  return key in en ? t(key) : t('error.generic', { code });
}

export function initialLanguage(): Language {
  return navigator.language.toLowerCase().startsWith('de') ? 'de' : 'en';
}

export const I18nContext = createContext<{ language: Language; t: Translate }>({ language: 'en', t: translator('en') });
export const useI18n = () => useContext(I18nContext);
