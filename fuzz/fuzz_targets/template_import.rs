//! Importing a saved template cache from arbitrary bytes: never panics, and a failed import leaves the
//! cache as it was.
#![no_main]

use helios_core::decode::{TemplateCache, TemplateLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cache = TemplateCache::new(TemplateLimits { max_sources: 8, max_templates_per_source: 8, max_templates: 16, ttl_secs: 60, max_bytes: 1 << 16 });
    if cache.import(data, 100).is_err() {
        assert!(cache.is_empty());
    }
    assert!(cache.len() <= 16);
});
