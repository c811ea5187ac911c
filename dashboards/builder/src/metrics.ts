// The 8 core metrics dashboards of US2 (FR-013). Queries read only metrics of the metric contract
// (charts/helios/files/metric-contract.yaml), narrowed by the FR-018 variables.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { graph, list, metricsDashboard, sel, single } from './common';

const row = (title: string) => new dashboard.RowBuilder(title);
// Graphs of one series per device or interface show the 20 that matter most at each step: with
// "All" over a Large inventory (2,000+ interfaces) more lines are unreadable, and their points are
// most of what a query returns (perf/README.md, SC-004).
const top = (expr: string) => `topk(20, ${expr})`;
const worst = (expr: string) => `bottomk(20, ${expr})`;
// Per-interface rates come recorded (files/rules/helios-interfaces.rules.yaml): a day's graph of a
// Large inventory reads them instead of evaluating rate() over every counter at every step.
const inBps = `helios:interface_in_bps:rate5m{${sel}}`;
const outBps = `helios:interface_out_bps:rate5m{${sel}}`;
const errorsPerSecond = `helios:interface_errors:rate5m{${sel}}`;
const bgpState = 'gnmic_network_instances_network_instance_protocols_protocol_bgp_neighbors_neighbor_state_session_state';
const bgpTransitions = 'gnmic_network_instances_network_instance_protocols_protocol_bgp_neighbors_neighbor_state_established_transitions';
const cpu = `avg by (device) (hrProcessorLoad{${sel}}) or avg by (device) (gnmic_components_component_cpu_utilization_state_instant{${sel}})`;
const memory = `100 * max by (device) (hrStorageUsed{${sel}, hrStorageDescr=~"(?i)physical memory|ram"} / hrStorageSize{${sel}, hrStorageDescr=~"(?i)physical memory|ram"}) or 100 * max by (device) (gnmic_system_memory_state_used{${sel}} / gnmic_system_memory_state_physical{${sel}})`;

export const metricsDashboards: dashboard.DashboardBuilder[] = [
  metricsDashboard('helios-network-overview', 'Network Overview', 'The network at a glance: availability, utilisation, errors and BGP, for the sites and time range chosen.')
    .withPanel(single('Devices answering', 'percentunit', `avg(probe_success{module="icmp", ${sel}})`))
    .withPanel(single('Devices', 'none', `count(count by (device) (probe_success{module="icmp", ${sel}}))`))
    .withPanel(single('BGP sessions established', 'none', `count(${bgpState}{${sel}} == 6)`))
    .withPanel(single('BGP sessions not established', 'none', `count(${bgpState}{${sel}} != 6) or vector(0)`))
    .withPanel(graph('Interface utilisation (all interfaces)', 'percentunit', [
      [`sum(${inBps}) / (sum(ifHighSpeed{${sel}}) * 1e6)`, 'in'],
      [`sum(${outBps}) / (sum(ifHighSpeed{${sel}}) * 1e6)`, 'out'],
    ]))
    .withPanel(list('Top 10 interfaces by errors', `topk(10, sum by (device, site, ifName) (${errorsPerSecond}))`))
    .withPanel(graph('Device availability by site', 'percentunit', [[`avg by (site) (probe_success{module="icmp", ${sel}})`, '{{site}}']], 24)),

  metricsDashboard('helios-interface-analytics', 'Interface Analytics', 'Traffic, errors, discards and status of each interface (SNMP and gNMI).')
    .withRow(row('Traffic'))
    .withPanel(graph('Received (top 20)', 'bps', [[top(inBps), '{{device}} {{ifName}}']]))
    .withPanel(graph('Sent (top 20)', 'bps', [[top(outBps), '{{device}} {{ifName}}']]))
    .withPanel(graph('Received (gNMI, top 20)', 'bps', [[top(`sum by (device, interface_name) (rate(gnmic_interfaces_interface_state_counters_in_octets{${sel}}[$__rate_interval])) * 8`), '{{device}} {{interface_name}}']]))
    .withPanel(graph('Utilisation (top 20)', 'percentunit', [[top(`helios:interface_in_utilisation:ratio5m{${sel}}`), '{{device}} {{ifName}} in']]))
    .withRow(row('Health'))
    .withPanel(graph('Errors (top 20)', 'pps', [[top(errorsPerSecond), '{{device}} {{ifName}}']]))
    .withPanel(graph('Discards (top 20)', 'pps', [[top(`helios:interface_discards:rate5m{${sel}}`), '{{device}} {{ifName}}']]))
    .withPanel(list('Interfaces down (admin up)', `ifOperStatus{${sel}} != 1 and on (device, ifIndex) ifAdminStatus{${sel}} == 1`, 24)),

  metricsDashboard('helios-device-health', 'Device Health', 'CPU, memory, uptime and reachability of each device.')
    .withPanel(graph('CPU (top 20)', 'percent', [[top(cpu), '{{device}}']]))
    .withPanel(graph('Memory in use (top 20)', 'percent', [[top(memory), '{{device}}']]))
    .withPanel(list('Uptime', `sysUpTime{${sel}} / 100`))
    .withPanel(graph('Reachability (worst 20)', 'percentunit', [[worst(`avg by (device) (probe_success{${sel}})`), '{{device}}']])),

  metricsDashboard('helios-site-overview', 'Site Overview', 'Each site: devices, traffic, reachability and firing alerts.')
    .withPanel(list('Devices per site', `count by (site) (count by (site, device) (probe_success{module="icmp", ${sel}}))`))
    .withPanel(graph('Traffic per site', 'bps', [[`sum by (site) (${inBps}) + sum by (site) (${outBps})`, '{{site}}']]))
    .withPanel(graph('Reachability per site', 'percentunit', [[`avg by (site) (probe_success{module="icmp", ${sel}})`, '{{site}}']]))
    .withPanel(list('Firing alerts per site', `count by (site, severity) (ALERTS{alertstate="firing", ${sel}})`)),

  metricsDashboard('helios-latency-reachability', 'Latency & Reachability', 'Synthetic probes (ICMP, TCP, HTTP): success, round-trip and probe times.')
    .withPanel(graph('Probe success (worst 20)', 'percentunit', [[worst(`avg by (device, module) (probe_success{${sel}})`), '{{device}} {{module}}']]))
    .withPanel(graph('Probe duration (slowest 20)', 's', [[top(`max by (device, module) (probe_duration_seconds{${sel}})`), '{{device}} {{module}}']]))
    .withPanel(graph('ICMP round trip (slowest 20)', 's', [[top(`max by (device) (probe_icmp_duration_seconds{phase="rtt", ${sel}})`), '{{device}}']]))
    .withPanel(list('Failing probes', `probe_success{${sel}} == 0`)),

  metricsDashboard('helios-bgp-status', 'BGP Status', 'BGP sessions from gNMI: states, changes and established counts.')
    .withPanel(single('Established', 'none', `count(${bgpState}{${sel}} == 6) or vector(0)`))
    .withPanel(single('Not established', 'none', `count(${bgpState}{${sel}} != 6) or vector(0)`))
    .withPanel(list('Sessions (1 idle .. 6 established)', `${bgpState}{${sel}}`, 24))
    .withPanel(graph('Transitions to Established (top 20)', 'none', [[top(`sum by (device, neighbor_neighbor_address) (increase(${bgpTransitions}{${sel}}[$__rate_interval]))`), '{{device}} {{neighbor_neighbor_address}}']], 24)),

  metricsDashboard('helios-top-talkers-metrics', 'Top Talkers (metrics)', 'The busiest interfaces and devices by interface counters (the flow dashboards break traffic down by conversation).')
    .withPanel(list('Top 10 interfaces by traffic', `topk(10, sum by (device, site, ifName) (rate(ifHCInOctets{${sel}}[$__range]) + rate(ifHCOutOctets{${sel}}[$__range])) * 8)`))
    .withPanel(list('Top 10 devices by traffic', `topk(10, sum by (device, site) (rate(ifHCInOctets{${sel}}[$__range]) + rate(ifHCOutOctets{${sel}}[$__range])) * 8)`))
    .withPanel(graph('Top 5 interfaces over time', 'bps', [[`topk(5, ${inBps})`, '{{device}} {{ifName}}']], 24)),

  metricsDashboard('helios-alerts-overview', 'Alerts Overview', 'What is firing, by severity, site and device.')
    .withPanel(single('Critical', 'none', `count(ALERTS{alertstate="firing", severity="critical", ${sel}}) or vector(0)`, 8))
    .withPanel(single('Warning', 'none', `count(ALERTS{alertstate="firing", severity="warning", ${sel}}) or vector(0)`, 8))
    .withPanel(single('Info', 'none', `count(ALERTS{alertstate="firing", severity="info", ${sel}}) or vector(0)`, 8))
    .withPanel(list('Firing alerts', `ALERTS{alertstate="firing", ${sel}}`, 24))
    .withPanel(graph('Firing alerts over time', 'none', [[`count by (severity) (ALERTS{alertstate="firing", ${sel}})`, '{{severity}}']], 24)),
];
