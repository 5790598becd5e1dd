// A strict parser of Prometheus text exposition (version 0.0.4), for tests: every line must be a comment,
// a HELP or TYPE line, or a sample of a declared metric family with valid labels and a number.
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL}="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL_RE = new RegExp(`(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, 'g');
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('exposition must end with a newline');
  for (const [i, line] of lines.slice(0, -1).entries()) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      if (types.has(type[1] ?? '')) throw new Error(`line ${i + 1}: second TYPE for ${type[1]}`);
      types.set(type[1] ?? '', type[2] ?? '');
      continue;
    }
    if (/^# HELP \S+ .*$/.test(line) || (line.startsWith('#') && !line.startsWith('# TYPE') && !line.startsWith('# HELP'))) continue;
    const match = SAMPLE_RE.exec(line);
    if (match === null) throw new Error(`line ${i + 1} is not a sample: ${line}`);
    const name = match[1] ?? '';
    const family = types.has(name) ? name : SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((f) => types.has(f));
    if (family === undefined) throw new Error(`line ${i + 1}: ${name} has no TYPE`);
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    if (Number.isNaN(value) && match[3] !== 'NaN') throw new Error(`line ${i + 1}: ${match[3]} is not a number`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL_RE)) labels[label[1] ?? ''] = label[2] ?? '';
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return exposition.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
