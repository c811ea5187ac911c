//! `helios-kube`: what Helios writes to Kubernetes.
//!
//! [`ConfigMaps`] writes generated files (collection targets) into a ConfigMap by server-side apply,
//! with Helios as the field manager, and only when the content changed: the ConfigMap carries a hash
//! of its data in the annotation [`HASH_ANNOTATION`], compared before anything is sent, so an
//! unchanged sync costs one GET and wakes no watcher. A pod mounts only ConfigMaps of its own
//! namespace, so the same ConfigMap can be kept in several (`with_copies_in`), one per reader.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

/// The annotation holding the hash of a ConfigMap's data.
pub const HASH_ANNOTATION: &str = "helios.io/content-hash";

/// Errors talking to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached.
    #[error("Kubernetes: {what}: {source}")]
    Api {
        /// What was being done (`apply ConfigMap monitoring/helios-targets`).
        what: String,
        /// The client's error.
        source: kube::Error,
    },
}

/// The result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The live ConfigMap already had this content: nothing was sent.
    Unchanged,
    /// The ConfigMap was created or updated.
    Written,
}

/// A stable hash of `data` (FNV-1a, 64 bits, over keys and values in key order), as 16 hex digits.
pub fn content_hash(data: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in data {
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// ConfigMaps of a namespace (and of the namespaces holding copies), written by one field manager.
#[derive(Clone)]
pub struct ConfigMaps {
    client: kube::Client,
    /// The namespace read from, then those holding copies.
    namespaces: Vec<String>,
    field_manager: String,
}

impl std::fmt::Debug for ConfigMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigMaps")
            .field("namespaces", &self.namespaces)
            .field("field_manager", &self.field_manager)
            .finish()
    }
}

impl ConfigMaps {
    /// ConfigMaps in `namespace`, applied as `field_manager`.
    pub fn new(client: kube::Client, namespace: &str, field_manager: &str) -> ConfigMaps {
        ConfigMaps { client, namespaces: vec![namespace.to_owned()], field_manager: field_manager.to_owned() }
    }

    /// Also keeps every ConfigMap written in these namespaces, for readers there. Reads use the first
    /// namespace only; each apply checks every copy, so a copy deleted or edited is rewritten.
    pub fn with_copies_in(mut self, namespaces: impl IntoIterator<Item = String>) -> ConfigMaps {
        for ns in namespaces {
            if !self.namespaces.contains(&ns) {
                self.namespaces.push(ns);
            }
        }
        self
    }

    fn api(&self, namespace: &str) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The data of ConfigMap `name` in the first namespace; `None` when it does not exist.
    pub async fn data(&self, name: &str) -> Result<Option<BTreeMap<String, String>>> {
        let namespace = &self.namespaces[0];
        let live = self.api(namespace).get_opt(name).await.map_err(|e| error(namespace, "read", name, e))?;
        Ok(live.map(|cm| cm.data.unwrap_or_default()))
    }

    /// Makes ConfigMap `name` hold exactly `data` (with `labels`) in every namespace, by server-side
    /// apply — except where the live ConfigMap already carries the same content hash. `Written` when
    /// any copy was written; the first failure stops and is returned.
    pub async fn apply_if_changed(
        &self,
        name: &str,
        data: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<Applied> {
        let mut applied = Applied::Unchanged;
        for namespace in &self.namespaces {
            if self.apply_in(namespace, name, data, labels).await? == Applied::Written {
                applied = Applied::Written;
            }
        }
        Ok(applied)
    }

    async fn apply_in(
        &self,
        namespace: &str,
        name: &str,
        data: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> Result<Applied> {
        let api = self.api(namespace);
        let hash = content_hash(data);
        let live = api.get_opt(name).await.map_err(|e| error(namespace, "read", name, e))?;
        let live_hash = live.as_ref().and_then(|cm| cm.metadata.annotations.as_ref()?.get(HASH_ANNOTATION).cloned());
        if live_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Applied::Unchanged);
        }
        let desired = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some(labels.clone()),
                annotations: Some([(HASH_ANNOTATION.to_owned(), hash)].into()),
                ..ObjectMeta::default()
            },
            data: Some(data.clone()),
            ..ConfigMap::default()
        };
        // apiVersion and kind are required in an apply patch; k8s-openapi's serialisation adds them.
        let params = PatchParams::apply(&self.field_manager).force();
        api.patch(name, &params, &Patch::Apply(&desired)).await.map_err(|e| error(namespace, "apply", name, e))?;
        tracing::info!(namespace, name, "applied ConfigMap");
        Ok(Applied::Written)
    }
}

fn error(namespace: &str, verb: &str, name: &str, source: kube::Error) -> Error {
    Error::Api { what: format!("{verb} ConfigMap {namespace}/{name}"), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_every_key_and_value_and_not_on_insertion_order() {
        let a: BTreeMap<String, String> = [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let mut b = BTreeMap::new();
        b.insert("b".to_owned(), "2".to_owned());
        b.insert("a".to_owned(), "1".to_owned());
        assert_eq!(content_hash(&a), content_hash(&b));
        let c: BTreeMap<String, String> = [("a".into(), "12".into()), ("b".into(), String::new())].into();
        assert_ne!(content_hash(&a), content_hash(&c), "key/value boundaries count");
        assert_eq!(content_hash(&a).len(), 16);
    }
}
