// The 6 flow dashboards of US3 (FR-013, FR-015): ClickHouse's flow tables, narrowed by the same
// FR-018 variables as the metrics dashboards (their values come from Thanos, so a device has the
// same name on both). Columns read are those of the contract's `clickhouse` section.
//
// Which table a panel reads:
// - `flows_1h` when the range is over 6 hours, `flows_1m` below (same columns: one query reads either
//   through `merge()`, and ClickHouse opens only the table the `_table` condition names);
// - `flows_raw` only for what the rollups do not keep (addresses, ports), over the last 15 minutes
//   (the panel's own time range, shown in its header).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as geomap from '@grafana/grafana-foundation-sdk/geomap';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { SqlQuery, SqlShape, clickhouse, graph, inventory, inventoryDashboard, thanos } from './common';

/** The flow tables' label column of each FR-018 variable. */
const columnOf: Record<(typeof inventory)[number], string> = {
  region: 'exporter_region',
  site: 'exporter_site',
  role: 'exporter_role',
  tier: 'exporter_tier',
  device: 'exporter_device',
};

/**
 * The variables as SQL: `match(exporter_site, '^(${site:regex})$') AND ...`. "All" is ".*", so flows
 * from exporters outside the inventory (empty labels) stay in. Grafana escapes regex characters with
 * a backslash, which ClickHouse's string literal keeps for `\\.` only as `.`: a value with a dot then
 * also matches any character there (a wider match, never a narrower one).
 */
const narrowed = inventory.map((v) => `match(${columnOf[v]}, '^(\${${v}:regex})$')`).join(' AND ');

/** Whether the range is long enough for `flows_1h`. */
const long = '$__toTime - $__fromTime > 21600';

/** The table's resolution, seconds. */
const resolution = `if(${long}, 3600, 60)`;
/**
 * Where a rollup range starts: at the row holding the range's first second (an hour or a minute
 * before it at most), so the first, partial row is counted, not dropped.
 */
const since = `toStartOfInterval($__fromTime, toIntervalSecond(${resolution}))`;

/** The rollup table for the range, narrowed by the variables and by `extra` conditions. */
function rollup(extra: string[] = []): string {
  return [
    `merge(currentDatabase(), '^flows_1[mh]$') WHERE _table = if(${long}, 'flows_1h', 'flows_1m')`,
    `time >= ${since} AND time <= $__toTime`,
    narrowed,
    ...extra,
  ].join(' AND ');
}

/** The last 15 minutes of `flows_raw`, narrowed likewise. */
function raw(extra: string[] = []): string {
  return ['flows_raw WHERE $__timeFilter(time_received)', narrowed, ...extra].join(' AND ');
}

/** A point's width in seconds: Grafana's interval, never finer than the table's resolution. */
const step = `greatest($__interval_s, ${resolution})`;
/** Average bits per second over the rows of a rollup range. */
const rangeBps = `sum(bytes) * 8 / ($__toTime - ${since})`;
/** Average bits per second over a `flows_raw` range. */
const rawBps = 'sum(bytes) * 8 / ($__toTime - $__fromTime)';
/** Addresses are IPv6 columns, IPv4 mapped: shown without the `::ffff:` prefix. */
const address = (column: string) => `replaceRegexpOne(IPv6NumToString(${column}), '^::ffff:', '')`;
/** A protocol number as its name. */
const protocol =
  "multiIf(proto = 6, 'TCP', proto = 17, 'UDP', proto = 1, 'ICMP', proto = 58, 'ICMPv6', proto = 47, 'GRE', proto = 50, 'ESP', toString(proto))";
/** An AS as "AS64500 Name". */
const as = (prefix: 'src' | 'dst') => `concat('AS', toString(${prefix}_as), ' ', ${prefix}_as_name)`;

function sqlPanel<P extends { withTarget(q: SqlQuery): P }>(panel: P, sql: string[], shape: SqlShape): P {
  return sql.reduce((p, q, i) => p.withTarget(new SqlQuery(q, shape, String.fromCharCode(65 + i))), panel);
}

/** A table of rows `select` over `from`, grouped by `by`, largest first. */
function ranked(title: string, select: string, from: string, by: string, n = 10, width = 12): table.PanelBuilder {
  const sql = `SELECT ${select}, ${rangeBps} AS bps, sum(flows) AS flows FROM ${from} GROUP BY ${by} ORDER BY bps DESC LIMIT ${n}`;
  return sqlPanel(new table.PanelBuilder().title(title).datasource(clickhouse).height(8).span(width), [sql], 'table').unit('bps');
}

/** Like `ranked`, over the last 15 minutes of `flows_raw` (flows counted, not summed). */
function rankedRaw(title: string, select: string, by: string, extra: string[] = [], width = 12): table.PanelBuilder {
  const sql = `SELECT ${select}, ${rawBps} AS bps, count() AS flows FROM ${raw(extra)} GROUP BY ${by} ORDER BY bps DESC LIMIT 10`;
  return sqlPanel(
    new table.PanelBuilder().title(`${title} (last 15 minutes)`).datasource(clickhouse).height(8).span(width).timeFrom('15m'),
    [sql],
    'table',
  ).unit('bps');
}

/** Bits per second over time for the `n` largest values of `series` (an expression) over the range. */
function topOverTime(title: string, series: string, extra: string[] = [], n = 5, width = 12): timeseries.PanelBuilder {
  const from = rollup(extra);
  const sql =
    `SELECT toStartOfInterval(time, toIntervalSecond(${step})) AS t, ${series} AS series, sum(bytes) * 8 / ${step} AS bps ` +
    `FROM ${from} AND ${series} IN (SELECT ${series} FROM ${from} GROUP BY ${series} ORDER BY sum(bytes) DESC LIMIT ${n}) ` +
    'GROUP BY t, series ORDER BY t';
  return sqlPanel(new timeseries.PanelBuilder().title(title).datasource(clickhouse).height(8).span(width), [sql], 'timeSeries').unit('bps');
}

/** A pie of the traffic's shares by `slice` over the range. */
function shares(title: string, slice: string): piechart.PanelBuilder {
  const sql = `SELECT ${slice} AS slice, sum(bytes) * 8 AS bits FROM ${rollup()} GROUP BY slice ORDER BY bits DESC`;
  return sqlPanel(
    new piechart.PanelBuilder()
      .title(title)
      .datasource(clickhouse)
      .height(8)
      .span(12)
      .pieType(piechart.PieChartType.Donut)
      .reduceOptions(new common.ReduceDataOptionsBuilder().values(true).calcs(['lastNotNull'])),
    [sql],
    'table',
  ).unit('decbits');
}

const dashboardOf = (uid: string, title: string, description: string) => inventoryDashboard('flows', uid, title, description);

/** The interface whose counters and flows Interface Correlation sets side by side. */
const interfaceVariable = new dashboard.QueryVariableBuilder('interface')
  .label('Interface')
  .datasource(thanos)
  .query('label_values(ifHCInOctets{device=~"$device"}, ifName)')
  .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
  .sort(dashboard.VariableSort.AlphabeticalAsc);

const throughInterface = ['(in_if_name = ${interface:sqlstring} OR out_if_name = ${interface:sqlstring})'];

export const flowDashboards: dashboard.DashboardBuilder[] = [
  dashboardOf('helios-flow-top-talkers', 'Top Talkers', 'Who sends and receives the most: conversations and addresses (last 15 minutes), ASes (the whole range).')
    .withPanel(rankedRaw('Top conversations', `${address('src_addr')} AS source, ${address('dst_addr')} AS destination, ${protocol} AS protocol`, 'source, destination, protocol', [], 24))
    .withPanel(rankedRaw('Top sources', `${address('src_addr')} AS source, ${as('src')} AS source_as, src_country AS country`, 'source, source_as, country'))
    .withPanel(rankedRaw('Top destinations', `${address('dst_addr')} AS destination, ${as('dst')} AS destination_as, dst_country AS country`, 'destination, destination_as, country'))
    .withPanel(ranked('Top source ASes', `${as('src')} AS source_as`, rollup(), 'source_as'))
    .withPanel(ranked('Top destination ASes', `${as('dst')} AS destination_as`, rollup(), 'destination_as'))
    .withPanel(topOverTime('Top source ASes over time', as('src'), [], 5, 24)),

  dashboardOf('helios-flow-traffic-matrix', 'Traffic Matrix', 'Traffic between sites, tenants (NetBox prefixes) and ASes.')
    .withPanel(ranked('Site to destination country', 'exporter_site AS site, dst_country AS country', rollup(), 'site, country', 20))
    .withPanel(ranked('Tenant to tenant', 'src_prefix_tenant AS source_tenant, dst_prefix_tenant AS destination_tenant', rollup(), 'source_tenant, destination_tenant', 20))
    .withPanel(ranked('AS to AS', `${as('src')} AS source_as, ${as('dst')} AS destination_as`, rollup(), 'source_as, destination_as', 20, 24))
    .withPanel(topOverTime('Traffic per site', 'exporter_site', [], 10))
    .withPanel(topOverTime('Traffic per destination tenant', 'dst_prefix_tenant', [], 10)),

  dashboardOf('helios-flow-as-paths', 'AS Paths', 'BGP AS paths of the traffic: the busiest paths, transit ASes and path lengths.')
    .withPanel(ranked('Top AS paths', "arrayStringConcat(arrayMap(a -> toString(a), as_path), ' ') AS path", rollup(['length(as_path) > 0']), 'path', 20, 24))
    .withPanel(ranked('Transit ASes (neither first nor last on the path)', 'arrayJoin(arraySlice(as_path, 2, length(as_path) - 2)) AS transit_as', rollup(['length(as_path) > 2']), 'transit_as'))
    .withPanel(ranked('Path length', 'length(as_path) AS hops', rollup(), 'hops'))
    .withPanel(topOverTime('Traffic by destination AS', as('dst'), [], 5, 24)),

  dashboardOf('helios-flow-protocols', 'Protocol Distribution', 'Traffic by IP protocol, address family and application port.')
    .withPanel(shares('IP protocols', protocol))
    .withPanel(shares('IPv4 and IPv6', "multiIf(etype = 2048, 'IPv4', etype = 34525, 'IPv6', toString(etype))"))
    .withPanel(topOverTime('Protocols over time', protocol, [], 6, 24))
    .withPanel(rankedRaw('Top applications', `${protocol} AS protocol, dst_port AS port`, 'protocol, port', [], 24)),

  dashboardOf('helios-flow-geography', 'Geographic Flows', 'Where traffic comes from and goes to (GeoIP countries).')
    .withPanel(
      sqlPanel(
        new geomap.PanelBuilder()
          .title('Traffic by source country')
          .datasource(clickhouse)
          .height(12)
          .span(24)
          .basemap({ build: (): common.MapLayerOptions => ({ type: 'default', name: 'Basemap' }) })
          .tooltip(new geomap.TooltipOptionsBuilder().mode(geomap.TooltipMode.Details))
          .layers([
            {
              build: (): common.MapLayerOptions => ({
                type: 'markers',
                name: 'Source countries',
                location: { mode: common.FrameGeometrySourceMode.Lookup, lookup: 'country', gazetteer: 'public/gazetteer/countries.json' },
                config: { size: { field: 'bps', min: 4, max: 30 }, showLegend: true },
                tooltip: true,
              }),
            },
          ]),
        [`SELECT src_country AS country, ${rangeBps} AS bps FROM ${rollup(["src_country != ''"])} GROUP BY country ORDER BY bps DESC`],
        'table',
      ).unit('bps'),
    )
    .withPanel(ranked('Top source countries', 'src_country AS country', rollup(), 'country'))
    .withPanel(ranked('Top destination countries', 'dst_country AS country', rollup(), 'country'))
    .withPanel(ranked('Country to country', 'src_country AS source, dst_country AS destination', rollup(), 'source, destination', 20, 24))
    .withPanel(topOverTime('Traffic by destination country', 'dst_country', [], 8, 24)),

  dashboardOf('helios-flow-interface-correlation', 'Interface Correlation', "One interface's counters (Thanos) beside the flows that crossed it (ClickHouse), to see who fills it.")
    .withVariable(interfaceVariable)
    .withPanel(graph('Counters (SNMP)', 'bps', [
      ['sum(rate(ifHCInOctets{device=~"$device", ifName="$interface"}[$__rate_interval])) * 8', 'in'],
      ['sum(rate(ifHCOutOctets{device=~"$device", ifName="$interface"}[$__rate_interval])) * 8', 'out'],
    ]))
    .withPanel(
      sqlPanel(
        new timeseries.PanelBuilder().title('Flows (sampled, scaled by the sampling rate)').datasource(clickhouse).height(8).span(12),
        [
          `SELECT toStartOfInterval(time, toIntervalSecond(${step})) AS t, sumIf(bytes, in_if_name = \${interface:sqlstring}) * 8 / ${step} AS inbound, ` +
            `sumIf(bytes, out_if_name = \${interface:sqlstring}) * 8 / ${step} AS outbound FROM ${rollup(throughInterface)} GROUP BY t ORDER BY t`,
        ],
        'timeSeries',
      ).unit('bps'),
    )
    .withPanel(ranked('Top source ASes through the interface', `${as('src')} AS source_as`, rollup(throughInterface), 'source_as'))
    .withPanel(rankedRaw('Top conversations through the interface', `${address('src_addr')} AS source, ${address('dst_addr')} AS destination`, 'source, destination', throughInterface)),
];
