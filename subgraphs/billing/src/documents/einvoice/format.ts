/** A rate in hundredths of a percent as the plain decimal CII expects: 1900 -> "19.00", 2550 -> "25.50". */
export function formatRatePercent(basisPoints: number): string {
  return `${Math.trunc(basisPoints / 100)}.${String(basisPoints % 100).padStart(2, '0')}`;
}
