// What every Helios dashboard shares: the datasources (provisioned by the chart with fixed uids), the
// FR-018 template variables, and small panel helpers so each dashboard reads as a list of panels.
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** Thanos Query, as the chart provisions it. */
export const thanos: dashboard.DataSourceRef = { type: 'prometheus', uid: 'thanos' };

/** ClickHouse, as the chart provisions it (the official plugin; its default database holds the flows). */
export const clickhouse: dashboard.DataSourceRef = { type: 'grafana-clickhouse-datasource', uid: 'clickhouse' };

/** The FR-018 variables in their order of narrowing; every device series carries these labels. */
export const inventory = ['region', 'site', 'role', 'tier', 'device'] as const;

/**
 * The variables' label matchers, for a selector: region=~"$region", site=~"$site", ... An unset
 * label (a device with no region) matches "All" (".*").
 */
export const sel = inventory.map((l) => `${l}=~"$${l}"`).join(', ');

function variables(): dashboard.QueryVariableBuilder[] {
  return inventory.map((label, i) => {
    // Each variable offers the values left by the ones before it (site within the region, ...).
    const narrowed = inventory.slice(0, i).map((l) => `${l}=~"$${l}"`).join(', ');
    return new dashboard.QueryVariableBuilder(label)
      .label(label[0].toUpperCase() + label.slice(1))
      .datasource(thanos)
      .query(`label_values(probe_success{${narrowed}}, ${label})`)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.*');
  });
}

/** A dashboard of `folder`: the last 24 hours, refreshed every minute, with the variables. */
export function inventoryDashboard(folder: 'metrics' | 'flows', uid: string, title: string, description: string): dashboard.DashboardBuilder {
  let d = new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['helios', folder])
    .time({ from: 'now-24h', to: 'now' })
    .refresh('1m')
    .timezone('browser')
    .editable();
  for (const v of variables()) {
    d = d.withVariable(v);
  }
  return d;
}

function query(expr: string, legend = ''): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().expr(expr).legendFormat(legend).datasource(thanos);
}

/** A dashboard of the metrics folder. */
export function metricsDashboard(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return inventoryDashboard('metrics', uid, title, description);
}

/**
 * A time series panel of one or more queries ([expr, legend] pairs), at most 300 points a series: a
 * point every ~5 minutes over a day (what a 24 h graph can show), and a quarter of the work a
 * 1,200-pixel panel would ask of Thanos over a Large inventory (perf/README.md, SC-004).
 */
export function graph(title: string, unit: string, queries: [string, string][], width = 12): timeseries.PanelBuilder {
  let p = new timeseries.PanelBuilder().title(title).unit(unit).datasource(thanos).height(8).span(width).maxDataPoints(300);
  for (const [expr, legend] of queries) {
    p = p.withTarget(query(expr, legend));
  }
  return p;
}

/** A single number. */
export function single(title: string, unit: string, expr: string, width = 6): stat.PanelBuilder {
  return new stat.PanelBuilder().title(title).unit(unit).datasource(thanos).height(4).span(width).withTarget(query(expr).instant());
}

/** A table of an instant query (top-N lists). */
export function list(title: string, expr: string, width = 12): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .datasource(thanos)
    .height(8)
    .span(width)
    .withTarget(query(expr).instant().format(prometheus.PromQueryFormat.Table));
}

/** How the ClickHouse plugin shapes a query's answer: a table, or time series (time, series, value). */
export type SqlShape = 'table' | 'timeSeries';

/**
 * A query of the official ClickHouse plugin in its SQL editor (the SDK has no builder for this
 * plugin's query model: editorType, queryType, format 1 table / 0 time series, rawSql).
 */
export class SqlQuery implements cog.Builder<cog.Dataquery> {
  constructor(
    private readonly sql: string,
    private readonly shape: SqlShape,
    private readonly refId = 'A',
  ) {}

  build(): cog.Dataquery {
    const query = {
      refId: this.refId,
      datasource: clickhouse,
      editorType: 'sql',
      queryType: this.shape,
      format: this.shape === 'table' ? 1 : 0,
      rawSql: this.sql,
      _implementsDataqueryVariant() {},
    };
    return query;
  }
}
