//! The template cache of the NetFlow v9 and IPFIX decoders, keyed by (exporter address, protocol,
//! observation domain / source id, template id).
//!
//! Bounded four ways so that a template flood, however spoofed, cannot exhaust memory: sources
//! (exporter × domain), templates per source, templates overall, and the bytes of the compiled
//! templates; a template's size is bounded by
//! [`MAX_TEMPLATE_FIELDS`](super::template::MAX_TEMPLATE_FIELDS). Templates expire after a TTL without
//! refresh, are withdrawn on request (IPFIX), and the whole cache can be exported and imported so a
//! restarted collector decodes data at once instead of waiting for the next template refresh.
//!
//! **Fair when full.** No sender can keep another's templates out by filling the cache: a new
//! template that does not fit evicts instead of being refused. What goes is what data has used
//! least recently (never, for a flood of templates alone — re-sending a template does not count as
//! use), and only from exporters holding more than their share (the bound divided by the exporters
//! held); a source full of its own templates makes room among its own; when every source slot is
//! taken, the sources data has not used for [`RECENT_USE_S`] go first. Evictions go in batches of a
//! sixteenth of what is held, so a flood against a full cache costs one scan per batch, not one per
//! template.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::template::{FieldSpec, Template};
use crate::error::{Error, Reason, Result};

/// Bounds and lifetime of cached templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateLimits {
    /// Most (exporter, protocol, domain) sources tracked at once.
    pub max_sources: usize,
    /// Most templates one source may hold.
    pub max_templates_per_source: usize,
    /// Most templates overall.
    pub max_templates: usize,
    /// A template not refreshed for this many seconds is forgotten.
    pub ttl_secs: u64,
    /// Most bytes of compiled templates (see the module's notes on what is evicted).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

fn default_max_bytes() -> usize {
    TemplateLimits::default().max_bytes
}

/// A source whose templates data used within this many seconds is not evicted to make room for
/// another source.
pub const RECENT_USE_S: u64 = 300;

impl Default for TemplateLimits {
    /// 16K sources, 1024 templates each, 64K overall, 64 MiB of compiled templates, 1 hour TTL: far
    /// above real deployments (an exporter typically uses < 50 templates of ~20 fields, ~2 KiB each,
    /// and refreshes them every few minutes); a flood of the largest templates (512 fields, ~28 KiB)
    /// is held to the 64 MiB.
    fn default() -> Self {
        TemplateLimits {
            max_sources: 16_384,
            max_templates_per_source: 1024,
            max_templates: 65_536,
            ttl_secs: 3600,
            max_bytes: 64 << 20,
        }
    }
}

/// Identifies one template space: an exporter's observation domain (IPFIX) or source id (v9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SourceKey {
    pub(crate) exporter: IpAddr,
    pub(crate) version: u16,
    pub(crate) domain: u32,
}

/// What the cache knows about one source.
#[derive(Debug, Default, Clone)]
pub(crate) struct Source {
    pub(crate) templates: FxHashMap<u16, Template>,
    /// Sampling rate from the source's option data (0 = unknown).
    pub(crate) sampling_rate: u64,
    /// IPFIX `systemInitTimeMilliseconds` from option data (0 = unknown).
    pub(crate) sys_init_ms: u64,
}

/// The cache.
#[derive(Debug, Default)]
pub struct TemplateCache {
    sources: FxHashMap<SourceKey, Source>,
    limits: TemplateLimits,
    templates: usize,
    /// Bytes of the compiled templates held.
    bytes: usize,
    /// Templates evicted to make room since the cache was made.
    evicted: u64,
    /// When a full cache last looked for expired templates: at most once a second, so that a flood of
    /// new templates against a full cache costs one scan a second, not one per template.
    last_purge_s: Option<u64>,
}

/// Outcome of offering a template to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Learned {
    New,
    Refreshed,
}

impl TemplateCache {
    /// An empty cache with these bounds.
    pub fn new(limits: TemplateLimits) -> Self {
        TemplateCache { sources: FxHashMap::default(), limits, templates: 0, bytes: 0, evicted: 0, last_purge_s: None }
    }

    /// Bytes of the compiled templates held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Templates evicted to make room for others so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Number of templates held.
    pub fn len(&self) -> usize {
        self.templates
    }

    /// Whether no template is held.
    pub fn is_empty(&self) -> bool {
        self.templates == 0
    }

    /// Number of sources held.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// A live (not expired) template.
    #[cfg(test)]
    fn template(&self, key: &SourceKey, id: u16, now_s: u64) -> Option<(&Template, &Source)> {
        let src = self.sources.get(key)?;
        let t = src.templates.get(&id)?;
        (now_s.saturating_sub(t.last_seen_s) <= self.limits.ttl_secs).then_some((t, src))
    }

    /// What the cache holds for a source (its templates may have expired: check `last_seen_s`).
    pub(crate) fn source(&self, key: &SourceKey) -> Option<&Source> {
        self.sources.get(key)
    }

    /// Seconds a template lives without refresh.
    pub(crate) fn ttl_secs(&self) -> u64 {
        self.limits.ttl_secs
    }

    /// Records option data for a source.
    pub(crate) fn set_options(&mut self, key: &SourceKey, sampling: u64, sys_init_ms: u64) {
        if let Some(src) = self.sources.get_mut(key) {
            if sampling != 0 {
                src.sampling_rate = sampling;
            }
            if sys_init_ms != 0 {
                src.sys_init_ms = sys_init_ms;
            }
        }
    }

    /// Learns or refreshes a template. A refresh with identical fields allocates nothing.
    pub(crate) fn learn(
        &mut self,
        key: SourceKey,
        id: u16,
        specs: &[FieldSpec],
        scope_fields: u16,
        options: bool,
        now_s: u64,
    ) -> std::result::Result<Learned, Reason> {
        if let Some(t) = self.sources.get_mut(&key).and_then(|s| s.templates.get_mut(&id))
            && t.same_as(specs, scope_fields, options)
        {
            t.last_seen_s = now_s;
            return Ok(Learned::Refreshed);
        }
        let tpl = Template::compile(specs, scope_fields, options, now_s).ok_or(Reason::BadTemplate)?;
        if !self.sources.contains_key(&key) && self.sources.len() >= self.limits.max_sources {
            self.purge_when_full(now_s);
            if self.sources.len() >= self.limits.max_sources {
                self.evict_cold_sources(now_s);
            }
            if self.sources.len() >= self.limits.max_sources {
                return Err(Reason::SourceLimit);
            }
        }
        let replaced = self.sources.get_mut(&key).and_then(|s| s.templates.remove(&id));
        if let Some(old) = &replaced {
            self.templates -= 1;
            self.bytes -= old.bytes();
        }
        let held = self.sources.get(&key).map_or(0, |s| s.templates.len());
        if held >= self.limits.max_templates_per_source {
            self.evict_coldest_of(&key);
        }
        if self.templates >= self.limits.max_templates || self.bytes + tpl.bytes() > self.limits.max_bytes {
            self.purge_when_full(now_s);
            if self.templates >= self.limits.max_templates || self.bytes + tpl.bytes() > self.limits.max_bytes {
                self.evict_over_share(&key, tpl.bytes());
            }
            if self.templates >= self.limits.max_templates || self.bytes + tpl.bytes() > self.limits.max_bytes {
                return Err(Reason::TemplateLimit);
            }
        }
        self.templates += 1;
        self.bytes += tpl.bytes();
        self.sources.entry(key).or_default().templates.insert(id, tpl);
        Ok(Learned::New)
    }

    /// Evicts a source's own least recently used template (data use, then refresh), to make room in
    /// that source.
    fn evict_coldest_of(&mut self, key: &SourceKey) {
        let Some(src) = self.sources.get_mut(key) else { return };
        let coldest = src.templates.iter().min_by_key(|(_, t)| (t.last_used_s.get(), t.last_seen_s)).map(|(&id, _)| id);
        if let Some(t) = coldest.and_then(|id| src.templates.remove(&id)) {
            self.templates -= 1;
            self.bytes -= t.bytes();
            self.evicted += 1;
        }
    }

    /// Makes room for `needed` bytes and one template of the source `requesting`: evicts the least
    /// recently used templates of the exporters holding more than their share — and the requester's
    /// own, when it holds its share already — a sixteenth of what is held at a time, never taking
    /// another exporter below its share. The requesting source stays, with its option data, even if
    /// none of its templates does.
    fn evict_over_share(&mut self, requesting: &SourceKey, needed: usize) {
        let requester = requesting.exporter;
        let mut held: FxHashMap<IpAddr, (usize, usize)> = FxHashMap::default();
        for (k, s) in &self.sources {
            let e = held.entry(k.exporter).or_default();
            e.0 += s.templates.len();
            e.1 += s.templates.values().map(Template::bytes).sum::<usize>();
        }
        let exporters = held.len().max(1);
        let (share, share_bytes) = (self.limits.max_templates / exporters, self.limits.max_bytes / exporters);
        let mut candidates: Vec<(u64, u64, SourceKey, u16, usize)> = self
            .sources
            .iter()
            .filter(|(k, _)| {
                held.get(&k.exporter).is_some_and(|&(n, b)| {
                    n > share
                        || b > share_bytes
                        || (k.exporter == requester && (n >= share || b + needed > share_bytes))
                })
            })
            .flat_map(|(k, s)| {
                s.templates.iter().map(move |(&id, t)| (t.last_used_s.get(), t.last_seen_s, *k, id, t.bytes()))
            })
            .collect();
        candidates.sort_unstable_by_key(|c| (c.0, c.1));
        let batch = (self.templates / 16).max(1);
        let mut count = 0;
        for (_, _, key, id, bytes) in candidates {
            let done = count >= batch
                && self.templates < self.limits.max_templates
                && self.bytes + needed <= self.limits.max_bytes;
            if done {
                break;
            }
            let Some(h) = held.get_mut(&key.exporter) else { continue };
            if h.0 <= share && h.1 <= share_bytes && key.exporter != requester {
                continue;
            }
            if let Some(src) = self.sources.get_mut(&key)
                && src.templates.remove(&id).is_some()
            {
                *h = (h.0 - 1, h.1.saturating_sub(bytes));
                self.templates -= 1;
                self.bytes -= bytes;
                self.evicted += 1;
                count += 1;
            }
        }
        self.sources.retain(|k, s| !s.templates.is_empty() || k == requesting);
    }

    /// Makes room for a source: evicts the sources data has not used for [`RECENT_USE_S`], least
    /// recently used first (never used first of all), a sixteenth of the bound at a time.
    fn evict_cold_sources(&mut self, now_s: u64) {
        let last_use = |s: &Source| s.templates.values().map(|t| t.last_used_s.get()).max().unwrap_or(0);
        let mut cold: Vec<(u64, SourceKey)> = self
            .sources
            .iter()
            .map(|(k, s)| (last_use(s), *k))
            .filter(|(used, _)| *used == 0 || now_s.saturating_sub(*used) > RECENT_USE_S)
            .collect();
        cold.sort_unstable_by_key(|c| c.0);
        for (_, key) in cold.into_iter().take((self.limits.max_sources / 16).max(1)) {
            if let Some(src) = self.sources.remove(&key) {
                self.templates -= src.templates.len();
                self.bytes -= src.templates.values().map(Template::bytes).sum::<usize>();
                self.evicted += src.templates.len() as u64;
            }
        }
    }

    /// Forgets template `id` of a source (IPFIX withdrawal, RFC 7011 §8.1). Returns whether it existed.
    pub(crate) fn withdraw(&mut self, key: &SourceKey, id: u16) -> bool {
        let removed = self.sources.get_mut(key).and_then(|s| s.templates.remove(&id));
        if let Some(t) = &removed {
            self.templates -= 1;
            self.bytes -= t.bytes();
        }
        removed.is_some()
    }

    /// Forgets every (options) template of a source (IPFIX "all templates" withdrawal).
    pub(crate) fn withdraw_all(&mut self, key: &SourceKey, options: bool) -> usize {
        let Some(src) = self.sources.get_mut(key) else {
            return 0;
        };
        let (before, bytes) = (src.templates.len(), &mut self.bytes);
        src.templates.retain(|_, t| {
            let keep = t.is_options() != options;
            if !keep {
                *bytes -= t.bytes();
            }
            keep
        });
        let removed = before - src.templates.len();
        self.templates -= removed;
        removed
    }

    /// Makes room in a full cache by purging expired templates, at most once a second.
    fn purge_when_full(&mut self, now_s: u64) {
        if self.last_purge_s != Some(now_s) {
            self.last_purge_s = Some(now_s);
            self.purge_expired(now_s);
        }
    }

    /// Drops templates not refreshed within the TTL, and sources left with none. Returns how many
    /// templates were dropped.
    pub fn purge_expired(&mut self, now_s: u64) -> usize {
        let ttl = self.limits.ttl_secs;
        let (mut removed, mut bytes) = (0, 0);
        self.sources.retain(|_, src| {
            src.templates.retain(|_, t| {
                let live = now_s.saturating_sub(t.last_seen_s) <= ttl;
                if !live {
                    removed += 1;
                    bytes += t.bytes();
                }
                live
            });
            !src.templates.is_empty()
        });
        self.templates -= removed;
        self.bytes -= bytes;
        removed
    }

    /// Serialises every template (and each source's option data) as JSON, for [`Self::import`].
    pub fn export(&self) -> Vec<u8> {
        let mut sources: Vec<SavedSource> = self
            .sources
            .iter()
            .map(|(k, s)| {
                let mut templates: Vec<SavedTemplate> = s
                    .templates
                    .iter()
                    .map(|(&id, t)| SavedTemplate {
                        id,
                        options: t.is_options(),
                        scope_fields: t.scope_fields(),
                        last_seen_s: t.last_seen_s,
                        fields: t.specs().to_vec(),
                    })
                    .collect();
                templates.sort_by_key(|t| t.id);
                SavedSource {
                    exporter: k.exporter,
                    version: k.version,
                    domain: k.domain,
                    sampling_rate: s.sampling_rate,
                    sys_init_ms: s.sys_init_ms,
                    templates,
                }
            })
            .collect();
        sources.sort_by_key(|s| (s.exporter, s.version, s.domain));
        let saved = SavedCache { format: SAVED_FORMAT, sources };
        serde_json::to_vec_pretty(&saved).unwrap_or_default()
    }

    /// Loads templates saved by [`Self::export`], as if each had been received at its saved time and
    /// within this cache's bounds. The input is untrusted: it is validated whole before anything is
    /// loaded, and the cache is unchanged on error. Returns the number of templates loaded.
    pub fn import(&mut self, saved: &[u8], now_s: u64) -> Result<usize> {
        let err = |detail: String| Error::TemplateImport { detail };
        let saved: SavedCache = serde_json::from_slice(saved).map_err(|e| err(e.to_string()))?;
        if saved.format != SAVED_FORMAT {
            return Err(err(format!("format {} is not {SAVED_FORMAT}", saved.format)));
        }
        let mut staged = TemplateCache {
            sources: self.sources.clone(),
            limits: self.limits,
            templates: self.templates,
            bytes: self.bytes,
            evicted: self.evicted,
            last_purge_s: self.last_purge_s,
        };
        let mut loaded = 0;
        for s in &saved.sources {
            if s.version != 9 && s.version != 10 {
                return Err(err(format!("source {} has protocol version {}", s.exporter, s.version)));
            }
            let key = SourceKey { exporter: s.exporter, version: s.version, domain: s.domain };
            for t in &s.templates {
                if now_s.saturating_sub(t.last_seen_s) > self.limits.ttl_secs {
                    continue;
                }
                staged
                    .learn(key, t.id, &t.fields, t.scope_fields, t.options, t.last_seen_s.min(now_s))
                    .map_err(|r| err(format!("template {} of {} domain {}: {r}", t.id, s.exporter, s.domain)))?;
                loaded += 1;
            }
            staged.set_options(&key, s.sampling_rate, s.sys_init_ms);
        }
        *self = staged;
        Ok(loaded)
    }
}

const SAVED_FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedCache {
    format: u32,
    sources: Vec<SavedSource>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSource {
    exporter: IpAddr,
    version: u16,
    domain: u32,
    sampling_rate: u64,
    sys_init_ms: u64,
    templates: Vec<SavedTemplate>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTemplate {
    id: u16,
    options: bool,
    scope_fields: u16,
    last_seen_s: u64,
    fields: Vec<FieldSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(last_octet: u8) -> SourceKey {
        SourceKey { exporter: IpAddr::from([10, 0, 0, last_octet]), version: 10, domain: 1 }
    }

    fn fields() -> Vec<FieldSpec> {
        vec![FieldSpec { id: 8, len: 4, pen: 0 }, FieldSpec { id: 1, len: 8, pen: 0 }]
    }

    fn limits() -> TemplateLimits {
        TemplateLimits {
            max_sources: 2,
            max_templates_per_source: 3,
            max_templates: 4,
            ttl_secs: 100,
            max_bytes: 1 << 20,
        }
    }

    /// Data used template `id` of `k` at `at`.
    fn used(c: &TemplateCache, k: SourceKey, id: u16, at: u64) {
        c.sources[&k].templates[&id].last_used_s.set(at);
    }

    fn ids(c: &TemplateCache, k: SourceKey) -> Vec<u16> {
        let mut ids: Vec<u16> = c.sources.get(&k).map(|s| s.templates.keys().copied().collect()).unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Unix time in the tests: templates never used by data are cold, whatever "now" is.
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_flood_from_one_exporter_evicts_its_own_templates_never_the_ones_data_uses() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, NOW).expect("room");
        used(&c, key(1), 256, NOW);
        // key(2) sends templates and never data: past its source's bound it replaces its own coldest.
        for id in 300..340 {
            assert_eq!(c.learn(key(2), id, &fields(), 0, false, NOW), Ok(Learned::New));
            assert!(c.len() <= 4 && ids(&c, key(2)).len() <= 3);
        }
        assert_eq!(ids(&c, key(1)), [256], "the template data uses stays");
        // Everything full: a second template of key(1) evicts key(2)'s over its share (2 of 4).
        c.learn(key(1), 257, &fields(), 0, false, NOW).expect("room");
        assert_eq!((ids(&c, key(1)), ids(&c, key(2)).len(), c.len()), (vec![256, 257], 2, 4));
        assert!(c.evicted() >= 38);
        // Re-sending a known template is a refresh, allowed even when full.
        assert_eq!(c.learn(key(1), 256, &fields(), 0, false, NOW + 5), Ok(Learned::Refreshed));
        assert_eq!(
            c.bytes(),
            c.sources.values().flat_map(|s| s.templates.values()).map(Template::bytes).sum::<usize>()
        );
    }

    #[test]
    fn spoofed_sources_give_way_to_a_real_exporter_but_one_data_uses_stays() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, NOW).expect("room");
        used(&c, key(1), 256, NOW);
        for spoofed in 100..140 {
            assert_eq!(c.learn(key(spoofed), 256, &fields(), 0, false, NOW), Ok(Learned::New), "{spoofed}");
            assert_eq!(ids(&c, key(1)), [256]);
        }
        assert_eq!(c.learn(key(2), 256, &fields(), 0, false, NOW), Ok(Learned::New), "a new exporter gets a source");
        used(&c, key(2), 256, NOW);
        // Both sources used by data within RECENT_USE_S: a new source is refused, not let in by evicting them.
        assert_eq!(c.learn(key(3), 256, &fields(), 0, false, NOW + 10), Err(Reason::SourceLimit));
        assert_eq!(c.learn(key(3), 256, &fields(), 0, false, NOW + RECENT_USE_S + 1), Ok(Learned::New));
    }

    #[test]
    fn the_byte_budget_holds_and_makes_room_like_the_count() {
        let one = Template::compile(&fields(), 0, false, 0).expect("template").bytes();
        let mut c = TemplateCache::new(TemplateLimits { max_bytes: 3 * one, ..limits() });
        let (a, b) = (key(1), SourceKey { domain: 2, ..key(1) });
        for id in 256..259 {
            c.learn(a, id, &fields(), 0, false, NOW).expect("room");
        }
        used(&c, a, 256, NOW);
        c.learn(b, 256, &fields(), 0, false, NOW).expect("the coldest makes room");
        assert!(c.bytes() <= 3 * one && c.len() == 3);
        assert!(ids(&c, a).contains(&256), "the template data used stays");
    }

    #[test]
    fn a_full_cache_looks_for_expired_templates_once_a_second() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, 0).expect("room");
        c.learn(key(2), 256, &fields(), 0, false, 150).expect("room");
        // Both used by data just now: not evictable, only expiry makes room.
        used(&c, key(1), 256, 150);
        used(&c, key(2), 256, 150);
        // At 150, key(1)'s template has expired: the full cache purges it to admit key(3).
        assert_eq!(c.learn(key(3), 256, &fields(), 0, false, 150), Ok(Learned::New));
        used(&c, key(3), 256, 150);
        assert_eq!(c.last_purge_s, Some(150));
        // Still full at 200 (nothing expired): one scan, then refusals without scanning again.
        assert_eq!(c.learn(key(4), 256, &fields(), 0, false, 200), Err(Reason::SourceLimit));
        assert_eq!(c.last_purge_s, Some(200));
        assert_eq!(c.learn(key(4), 256, &fields(), 0, false, 200), Err(Reason::SourceLimit));
        // At 251 key(2)'s template (seen at 150) has expired: a new second, a new scan, room.
        assert_eq!(c.learn(key(4), 256, &fields(), 0, false, 251), Ok(Learned::New));
    }

    #[test]
    fn templates_expire_after_the_ttl_and_make_room() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, 0).expect("room");
        assert!(c.template(&key(1), 256, 100).is_some());
        assert!(c.template(&key(1), 256, 101).is_none());
        c.learn(key(2), 256, &fields(), 0, false, 50).expect("room");
        // key(3) needs a source slot: the expired key(1) is purged to make it.
        assert_eq!(c.learn(key(3), 256, &fields(), 0, false, 120), Ok(Learned::New));
        assert_eq!(c.sources(), 2);
        assert_eq!(c.purge_expired(1000), 2);
        assert!(c.is_empty());
    }

    #[test]
    fn withdrawal_forgets_one_or_all_templates() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, 0).expect("room");
        c.learn(key(1), 257, &fields(), 1, true, 0).expect("room");
        c.learn(key(1), 258, &fields(), 0, false, 0).expect("room");
        assert!(c.withdraw(&key(1), 256));
        assert!(!c.withdraw(&key(1), 256));
        assert_eq!(c.withdraw_all(&key(1), false), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.withdraw_all(&key(1), true), 1);
        assert_eq!(c.withdraw_all(&key(9), true), 0);
        assert!(c.is_empty());
    }

    #[test]
    fn export_then_import_restores_templates_and_option_data() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, 10).expect("room");
        c.learn(key(1), 300, &fields(), 1, true, 10).expect("room");
        c.set_options(&key(1), 512, 1_000);
        let saved = c.export();
        let mut d = TemplateCache::new(limits());
        assert_eq!(d.import(&saved, 20), Ok(2));
        let (t, src) = d.template(&key(1), 300, 20).expect("imported");
        assert!(t.is_options());
        assert_eq!((src.sampling_rate, src.sys_init_ms), (512, 1_000));
        // Expired entries are skipped, not loaded.
        let mut e = TemplateCache::new(limits());
        assert_eq!(e.import(&saved, 1_000), Ok(0));
    }

    #[test]
    fn a_bad_saved_cache_is_rejected_whole() {
        let mut c = TemplateCache::new(limits());
        c.learn(key(1), 256, &fields(), 0, false, 0).expect("room");
        for bad in [&b"not json"[..], br#"{"format":2,"sources":[]}"#, br#"{"format":1,"sources":[{"exporter":"10.0.0.1","version":7,"domain":0,"sampling_rate":0,"sys_init_ms":0,"templates":[]}]}"#,
            br#"{"format":1,"sources":[{"exporter":"10.0.0.9","version":9,"domain":0,"sampling_rate":0,"sys_init_ms":0,"templates":[{"id":256,"options":false,"scope_fields":0,"last_seen_s":0,"fields":[]}]}]}"#] {
            assert!(matches!(c.import(bad, 0), Err(Error::TemplateImport { .. })), "{}", String::from_utf8_lossy(bad));
            assert_eq!(c.len(), 1);
            assert!(c.template(&key(1), 256, 0).is_some());
        }
    }
}
