//! The label taxonomy of FR-018, defined once: every metric target and every flow carries these.

use serde::{Deserialize, Serialize};

/// The labels, in their canonical order.
pub const LABEL_NAMES: [&str; 7] = ["device", "site", "region", "vendor", "platform", "role", "tier"];

/// A device's labels. Empty strings are "unknown".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Labels {
    /// Device name.
    pub device: String,
    /// Site (NetBox site slug or name).
    pub site: String,
    /// Region the site belongs to.
    pub region: String,
    /// Vendor (NetBox manufacturer).
    pub vendor: String,
    /// Platform (OS).
    pub platform: String,
    /// Role (NetBox device role).
    pub role: String,
    /// Tier (a NetBox custom field).
    pub tier: String,
}

impl Labels {
    /// `(name, value)` pairs in [`LABEL_NAMES`] order.
    pub fn pairs(&self) -> [(&'static str, &str); 7] {
        [
            ("device", &self.device),
            ("site", &self.site),
            ("region", &self.region),
            ("vendor", &self.vendor),
            ("platform", &self.platform),
            ("role", &self.role),
            ("tier", &self.tier),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_the_canonical_order() {
        let l = Labels { device: "r1".into(), tier: "core".into(), ..Labels::default() };
        let names: Vec<_> = l.pairs().iter().map(|p| p.0).collect();
        assert_eq!(names, LABEL_NAMES);
        assert_eq!(l.pairs()[0].1, "r1");
        assert_eq!(l.pairs()[6].1, "core");
    }
}
