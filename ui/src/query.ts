// The query bar's syntax, and how it maps onto the query service's filters.
//
//   service:auth  level:error  trace_id:4bf9…   the event's fields, exactly
//   user_id=42    region="eu west"             a metadata entry, exactly
//   timeout       "connection failed"          words and phrases in the message
//   -service:auth -user_id=42 -"health check"  the same, excluded
//
// Words and phrases become the API's `q` (every one must occur, any case); the fields and
// metadata become `service`, `level`, `trace_id` and `metadata.<key>`; a leading `-` makes
// any clause an exclusion (`not.service`, `not.metadata.<key>`, `not.q`, …).

export type Field = 'service' | 'level' | 'trace_id';

export type Clause =
  | { kind: 'field'; field: Field; value: string; exclude: boolean }
  | { kind: 'metadata'; key: string; value: string; exclude: boolean }
  | { kind: 'text'; text: string; phrase: boolean; exclude: boolean };

// A clause without its sign: what a filter or exclusion button adds.
export type ClauseTarget = Clause extends infer C ? (C extends Clause ? Omit<C, 'exclude'> : never) : never;

export function signed(target: ClauseTarget, exclude: boolean): Clause {
  return { ...target, exclude } as Clause;
}

export interface ParsedQuery {
  clauses: Clause[];
  // The first problem found, if any: the page shows it instead of searching.
  error?: string;
}

// Field names and the aliases the bar accepts for them.
const FIELDS: Record<string, Field> = {
  service: 'service',
  level: 'level',
  trace_id: 'trace_id',
  trace: 'trace_id',
};

export const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

// Reads one atom at `at`: a `"quoted string"` (backslash escapes `"` and `\`) or bare text
// up to white space or one of `stops`. Returns the text, whether it was quoted and where it
// ends; `end` is -1 for an unterminated quote.
function atom(input: string, at: number, stops: string): { text: string; quoted: boolean; end: number } {
  if (input[at] === '"') {
    let text = '';
    for (let i = at + 1; i < input.length; i++) {
      const c = input[i];
      if (c === '\\' && i + 1 < input.length) {
        text += input[++i];
      } else if (c === '"') {
        return { text, quoted: true, end: i + 1 };
      } else {
        text += c;
      }
    }
    return { text, quoted: true, end: -1 };
  }
  let end = at;
  while (end < input.length && !/\s/.test(input[end]) && !stops.includes(input[end])) end++;
  return { text: input.slice(at, end), quoted: false, end };
}

export function parseQuery(input: string): ParsedQuery {
  const clauses: Clause[] = [];
  let at = 0;
  while (at < input.length) {
    if (/\s/.test(input[at])) {
      at++;
      continue;
    }
    const exclude = input[at] === '-' && at + 1 < input.length && !/\s/.test(input[at + 1]);
    if (exclude) at++;
    const head = atom(input, at, '=:');
    if (head.end < 0) return { clauses, error: 'a double quote is not closed' };
    const separator = input[head.end];
    const field = head.quoted ? undefined : FIELDS[head.text.toLowerCase()];
    if (separator === '=' || (separator === ':' && field)) {
      const value = atom(input, head.end + 1, '');
      if (value.end < 0) return { clauses, error: 'a double quote is not closed' };
      if (separator === ':' && field) {
        if (value.text === '') return { clauses, error: `${head.text}: needs a value` };
        const text = field === 'level' ? value.text.toUpperCase() : value.text;
        if (field === 'level' && !(LEVELS as readonly string[]).includes(text)) {
          return { clauses, error: `level must be one of ${LEVELS.join(', ')}, got ${value.text}` };
        }
        clauses.push({ kind: 'field', field, value: text, exclude });
      } else {
        const key = head.text.startsWith('metadata.') && !head.quoted ? head.text.slice(9) : head.text;
        if (key === '') return { clauses, error: 'a metadata filter needs a key: key=value' };
        clauses.push({ kind: 'metadata', key, value: value.text, exclude });
      }
      at = value.end;
      continue;
    }
    // Plain text: a bare word runs to the next white space, `:` and `=` included.
    const text = head.quoted ? head : atom(input, at, '');
    if (text.quoted && text.text.includes('"')) {
      return { clauses, error: 'a phrase cannot contain a double quote' };
    }
    if (text.text !== '') clauses.push({ kind: 'text', text: text.text, phrase: text.quoted, exclude });
    at = text.end;
  }
  return { clauses };
}

// `value` as the bar writes it: quoted when it would otherwise read as something else.
export function quote(value: string): string {
  if (value !== '' && !/[\s"\\=:]/.test(value) && !value.startsWith('-')) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function formatClause(clause: Clause): string {
  const sign = clause.exclude ? '-' : '';
  switch (clause.kind) {
    case 'field':
      return `${sign}${clause.field}:${quote(clause.value)}`;
    case 'metadata':
      return `${sign}${quote(clause.key)}=${quote(clause.value)}`;
    case 'text':
      return sign + (clause.phrase || /\s/.test(clause.text) ? `"${clause.text}"` : quote(clause.text));
  }
}

// Whether two clauses constrain the same thing (the same field or metadata key, the same
// way): adding one replaces the other, as the API takes one value for each.
function sameTarget(a: Clause, b: Clause): boolean {
  if (a.exclude !== b.exclude || a.kind !== b.kind) return false;
  if (a.kind === 'field' && b.kind === 'field') return a.field === b.field;
  if (a.kind === 'metadata' && b.kind === 'metadata') return a.key === b.key;
  return false;
}

// The query with `clause` added: an earlier clause on the same target (and its opposite
// with the same value) is dropped, so clicking "filter" then "exclude" on a value flips it.
export function withClause(input: string, clause: Clause): string {
  const { clauses } = parseQuery(input);
  const same = (c: Clause) => formatClause({ ...c, exclude: false }) === formatClause({ ...clause, exclude: false });
  const kept = clauses.filter((c) => !sameTarget(c, clause) && !same(c));
  return [...kept, clause].map(formatClause).join(' ');
}

// The API's filter parameters for a parsed query, or the reason it cannot be sent: the API
// takes each field (and each metadata key) at most once each way.
export function filterParams(parsed: ParsedQuery): { params: URLSearchParams; error?: string } {
  const params = new URLSearchParams();
  if (parsed.error) return { params, error: parsed.error };
  const text = { include: [] as string[], exclude: [] as string[] };
  for (const clause of parsed.clauses) {
    const prefix = clause.exclude ? 'not.' : '';
    if (clause.kind === 'text') {
      const term = clause.phrase || /\s/.test(clause.text) ? `"${clause.text}"` : clause.text;
      (clause.exclude ? text.exclude : text.include).push(term);
      continue;
    }
    const name = prefix + (clause.kind === 'field' ? clause.field : `metadata.${clause.key}`);
    if (params.has(name)) {
      const what = clause.kind === 'field' ? clause.field : clause.key;
      return { params, error: `${clause.exclude ? '-' : ''}${what} is given twice: a search takes one value for each` };
    }
    params.set(name, clause.value);
  }
  if (text.include.length) params.set('q', text.include.join(' '));
  if (text.exclude.length) params.set('not.q', text.exclude.join(' '));
  return { params };
}

// The words and phrases a message must contain: what the results highlight.
export function highlightTerms(parsed: ParsedQuery): string[] {
  return parsed.clauses
    .filter((c): c is Extract<Clause, { kind: 'text' }> => c.kind === 'text' && !c.exclude)
    .map((c) => c.text);
}
