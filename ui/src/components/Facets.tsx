import type { FacetsAnswer, FacetValue } from '../api';
import { signed, type Clause, type ClauseTarget } from '../query';

interface Props {
  facets: FacetsAnswer | null;
  error: string | null;
  loading: boolean;
  onClause: (clause: Clause) => void;
}

function FacetGroup({ title, values, clause, onClause }: {
  title: string;
  values: FacetValue[];
  clause: (value: string) => ClauseTarget;
  onClause: (clause: Clause) => void;
}) {
  if (values.length === 0) return null;
  return (
    <section class="facet" data-facet={title}>
      <h3>{title}</h3>
      <ul>
        {values.map(({ value, count }) => (
          <li key={value} data-value={value}>
            <button class="facet-value" title={`Filter for ${title} ${value}`} onClick={() => onClause(signed(clause(value), false))}>
              <span class="facet-name">{value === '' ? '(empty)' : value}</span>
              <span class="count">{count.toLocaleString('en-US')}</span>
            </button>
            <button class="facet-exclude" title={`Exclude ${title} ${value}`} aria-label={`Exclude ${value}`} onClick={() => onClause(signed(clause(value), true))}>
              −
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

// The top values of service, level and the commonest metadata keys among the matching
// events, with their counts; a click filters for a value, − excludes it.
export function Facets({ facets, error, loading, onClause }: Props) {
  return (
    <nav class="facets" aria-label="Facets" aria-busy={loading}>
      {error && <div class="error">{error}</div>}
      {!facets && loading && <div class="muted">Counting…</div>}
      {facets && (
        <>
          <FacetGroup title="service" values={facets.service} clause={(value) => ({ kind: 'field', field: 'service', value })} onClause={onClause} />
          <FacetGroup title="level" values={facets.level} clause={(value) => ({ kind: 'field', field: 'level', value })} onClause={onClause} />
          {facets.metadata.map((entry) => (
            <FacetGroup key={entry.key} title={entry.key} values={entry.values} clause={(value) => ({ kind: 'metadata', key: entry.key, value })} onClause={onClause} />
          ))}
        </>
      )}
    </nav>
  );
}
