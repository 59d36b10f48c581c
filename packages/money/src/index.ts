export { Money } from './money.js';
export { isCurrencyCode, minorUnitExponent, supportedCurrencies, type CurrencyCode } from './currencies.js';
export { divideRoundHalfUp, formatScaledDecimal, parseScaledDecimal } from './decimal.js';
export { isValidIban, normalizeIban } from './iban.js';
