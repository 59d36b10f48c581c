import { formatDay, formatNumber } from './format';
import { useI18n } from './i18n';

export interface UsagePoint {
  date: string;
  quantity: number;
}

export interface ForecastPoint {
  date: string;
  quantity: number;
  lower: number;
  upper: number;
}

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 8, bottom: 28, left: 44 };

/**
 * The last 30 days of usage (bars) and the 7-day forecast (line) with its 80 % range (band), hand-drawn in SVG so the
 * portal ships no chart library. The same figures are in a visually hidden table for screen readers.
 */
export function UsageChart({ usage, forecast }: { usage: UsagePoint[]; forecast: ForecastPoint[] }) {
  const { t, language } = useI18n();
  const days = usage.length + forecast.length;
  const max = Math.max(1, ...usage.map((point) => point.quantity), ...forecast.map((point) => point.upper));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = plotWidth / Math.max(1, days);
  const y = (value: number) => PAD.top + plotHeight - (value / max) * plotHeight;
  const x = (index: number) => PAD.left + index * step + step / 2;
  const forecastX = (index: number) => x(usage.length + index);
  const band =
    forecast.length > 0
      ? [
          ...forecast.map((point, index) => `${forecastX(index)},${y(point.upper)}`),
          ...[...forecast].reverse().map((point, index) => `${forecastX(forecast.length - 1 - index)},${y(point.lower)}`),
        ].join(' ')
      : '';
  const line = forecast.map((point, index) => `${forecastX(index)},${y(point.quantity)}`).join(' ');
  const ticks = [0, max / 2, max];
  const total = usage.reduce((sum, point) => sum + point.quantity, 0);
  const forecastTotal = forecast.reduce((sum, point) => sum + point.quantity, 0);
  const summary = t('dashboard.chartSummary', { total: formatNumber(total, language), forecast: formatNumber(forecastTotal, language) });
  const labelEvery = Math.ceil(days / 6);
  const all = [...usage.map((point) => point.date), ...forecast.map((point) => point.date)];

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
        {ticks.map((tick) => (
          <g key={tick}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} className="chart-grid" />
            <text x={PAD.left - 6} y={y(tick) + 4} textAnchor="end" className="chart-label">
              {formatNumber(tick, language)}
            </text>
          </g>
        ))}
        {usage.map((point, index) => (
          <rect
            key={point.date}
            x={x(index) - step * 0.35}
            width={step * 0.7}
            y={y(point.quantity)}
            height={Math.max(0, PAD.top + plotHeight - y(point.quantity))}
            className="chart-bar"
          />
        ))}
        {band && <polygon points={band} className="chart-band" />}
        {line && <polyline points={line} className="chart-line" />}
        {all.map((date, index) =>
          index % labelEvery === 0 ? (
            <text key={date} x={x(index)} y={HEIGHT - 8} textAnchor="middle" className="chart-label">
              {formatDay(date, language, { day: 'numeric', month: 'short' })}
            </text>
          ) : null,
        )}
      </svg>
      <figcaption className="chart-legend">
        <span className="legend legend-usage">{t('dashboard.legendUsage')}</span>
        <span className="legend legend-forecast">{t('dashboard.legendForecast')}</span>
        <span className="legend legend-range">{t('dashboard.legendRange')}</span>
      </figcaption>
      <table className="visually-hidden">
        <caption>{t('dashboard.usage')}</caption>
        <tbody>
          {usage.map((point) => (
            <tr key={point.date}>
              <th scope="row">{point.date}</th>
              <td>{point.quantity}</td>
            </tr>
          ))}
          {forecast.map((point) => (
            <tr key={`f-${point.date}`}>
              <th scope="row">{point.date}</th>
              <td>
                {t('dashboard.legendForecast')} {Math.round(point.quantity)} ({Math.round(point.lower)}–{Math.round(point.upper)})
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
