import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CsvError, Forecaster, HolidayCalendar, TooLittleHistoryError, formatForecastCsv, parseHistoryCsv, trainForecaster } from './forecasting/index.js';

// `pnpm -s forecast --input HISTORY.csv --horizon 7 --output OUT.csv`: trains the production forecaster on the
// given history only and writes its forecasts. Exit codes: 0 done, 2 bad arguments or input, 1 anything else.

const USAGE = `usage: pnpm -s forecast --input HISTORY.csv [--horizon 7] [--output OUT.csv] [--holidays 2026-12-25,...] [--seed 1]
  HISTORY.csv: header series_id,timestamp,value; one row per series and day (timestamp YYYY-MM-DD)
  OUT.csv:     series_id,timestamp,forecast,lower,upper for the horizon days after each series' last day
               (forecast = median, lower/upper = 80 % range); "-" or no --output writes to standard output`;

const MAX_HORIZON_DAYS = 90;

function fail(message: string): never {
  process.stderr.write(`forecast: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        input: { type: 'string' },
        horizon: { type: 'string', default: '7' },
        output: { type: 'string' },
        holidays: { type: 'string' },
        seed: { type: 'string', default: '1' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.input) fail(`--input is required\n${USAGE}`);
  const horizon = /^\d+$/.test(values.horizon) ? Number(values.horizon) : Number.NaN;
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > MAX_HORIZON_DAYS)
    fail(`--horizon must be a whole number of days from 1 to ${MAX_HORIZON_DAYS} (got "${values.horizon}")`);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer (got "${values.seed}")`);
  let holidays: HolidayCalendar;
  try {
    holidays = HolidayCalendar.parse(values.holidays);
  } catch (error) {
    fail(`--holidays: ${(error as Error).message}`);
  }

  let text: string;
  try {
    text = await readFile(values.input, 'utf8');
  } catch (error) {
    fail(`cannot read ${values.input}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed;
  try {
    parsed = parseHistoryCsv(text);
  } catch (error) {
    if (error instanceof CsvError) fail(`${values.input} is not a valid history file (${error.code}):\n${error.message}`);
    throw error;
  }
  if (parsed.filledDays > 0) process.stderr.write(`forecast: ${parsed.filledDays} missing series days counted as zero usage\n`);

  let forecaster: Forecaster;
  try {
    ({ forecaster } = await trainForecaster(parsed.series, { holidays, seed }));
  } catch (error) {
    if (error instanceof TooLittleHistoryError) fail(`${error.message} (${error.code})`);
    throw error;
  }
  try {
    const csv = formatForecastCsv(forecaster.forecast(parsed.series, horizon));
    if (!values.output || values.output === '-') process.stdout.write(csv);
    else await writeFile(values.output, csv);
  } finally {
    forecaster.dispose();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`forecast: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
