//! Layered configuration: a service's serde struct, filled from its defaults, then a YAML file, then
//! environment variables, then `--set key=value` flags — each layer overriding the one before.
//!
//! Environment variables are `<PREFIX>__<FIELD>__<SUBFIELD>` (double underscores between levels, any
//! case): `HELIOS_FLOWD__CLICKHOUSE__URL=http://ch:8123` sets `clickhouse.url`. Values of env vars and
//! flags are read as YAML scalars, so `true`, `8` and `[a, b]` have their types. Unknown keys are
//! errors, naming the layer they came from (a typo never silently does nothing). Neither errors nor
//! `--print-config` show a secret: URL credentials and the values of secret keys
//! ([`helios_core::redact`]) are replaced.

use std::path::Path;

use helios_core::redact::{REDACTED, is_secret_key, url_credentials};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// A layer does not fit the configuration's shape.
    #[error("config {layer}: {detail}")]
    Invalid {
        /// Which layer (`file x.yaml`, `env HELIOS_FLOWD__X`, `--set x=1`, or `merged`).
        layer: String,
        /// What was wrong.
        detail: String,
    },
}

/// Loads `T` from its defaults, `file`, the variables of `env` starting with `env_prefix` + `__`,
/// and `sets` (`key.sub=value`).
pub fn load<T: Serialize + DeserializeOwned + Default>(
    file: Option<&Path>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    sets: &[String],
) -> Result<T, ConfigError> {
    let invalid = |layer: &str, detail: String| ConfigError::Invalid { layer: layer.to_owned(), detail };
    let mut merged = serde_json::to_value(T::default()).map_err(|e| invalid("defaults", e.to_string()))?;
    if let Some(path) = file {
        let file_err = |detail: String| ConfigError::File {
            path: path.display().to_string(),
            detail: url_credentials(&detail).into_owned(),
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let value: Value = serde_yaml_ng::from_str(&text).map_err(|e| file_err(e.to_string()))?;
        let layer = format!("file {}", path.display());
        check::<T>(&value, &layer)?;
        merge(&mut merged, value);
    }
    let prefix = format!("{}__", env_prefix.to_ascii_uppercase());
    let mut vars: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
    vars.sort();
    for (name, value) in vars {
        let path: Vec<String> = name[prefix.len()..].split("__").map(str::to_ascii_lowercase).collect();
        let layer = format!("env {name}");
        apply::<T>(&mut merged, &path, &value, &layer)?;
    }
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            return Err(invalid(&format!("--set {}", url_credentials(set)), "expected key=value".into()));
        };
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        let layer = format!("--set {key}={}", shown(&path, value));
        apply::<T>(&mut merged, &path, value, &layer)?;
    }
    serde_json::from_value(merged).map_err(|e| invalid("merged", e.to_string()))
}

/// How a value set at `path` may be shown: not at all under a secret key, else without URL credentials.
fn shown<'a>(path: &[String], value: &'a str) -> std::borrow::Cow<'a, str> {
    if path.iter().any(|k| is_secret_key(k)) { REDACTED.into() } else { url_credentials(value) }
}

/// Sets `path` to `raw` (a YAML scalar) in `merged`, checking the change alone fits `T`.
fn apply<T: Serialize + DeserializeOwned + Default>(
    merged: &mut Value,
    path: &[String],
    raw: &str,
    layer: &str,
) -> Result<(), ConfigError> {
    let value: Value = serde_yaml_ng::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    let mut patch = value;
    for key in path.iter().rev() {
        if key.is_empty() {
            return Err(ConfigError::Invalid { layer: layer.to_owned(), detail: "empty key".into() });
        }
        patch = Value::Object([(key.clone(), patch)].into_iter().collect());
    }
    check::<T>(&patch, layer).map_err(|e| match e {
        // The parser's message may quote the value.
        ConfigError::Invalid { layer, detail } => {
            let detail = if raw.is_empty() { detail } else { detail.replace(raw, &shown(path, raw)) };
            ConfigError::Invalid { layer, detail: url_credentials(&detail).into_owned() }
        }
        other => other,
    })?;
    merge(merged, patch);
    Ok(())
}

/// Whether `layer` alone, over the defaults, gives a valid `T` (so errors name the layer at fault).
fn check<T: Serialize + DeserializeOwned + Default>(layer_value: &Value, layer: &str) -> Result<(), ConfigError> {
    let mut v = serde_json::to_value(T::default()).unwrap_or(Value::Null);
    merge(&mut v, layer_value.clone());
    serde_json::from_value::<T>(v)
        .map(drop)
        .map_err(|e| ConfigError::Invalid { layer: layer.to_owned(), detail: e.to_string() })
}

/// Deep merge: objects merge key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The effective configuration as YAML, for `--print-config`, with every secret replaced: values of
/// secret keys (Kafka's `sasl.*` and `ssl.key*` properties, passwords, tokens) and URL credentials.
pub fn to_yaml<T: Serialize>(config: &T) -> String {
    let redacted = serde_json::to_value(config).map(|mut v| {
        redact(&mut v);
        v
    });
    redacted
        .map_err(|e| e.to_string())
        .and_then(|v| serde_yaml_ng::to_string(&v).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let set = !matches!(v, Value::Null) && v.as_str() != Some("");
                if is_secret_key(k) && set && !v.is_object() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = url_credentials(s) {
                *s = clean;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        url: String,
        retries: u32,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Conf {
        listen: Vec<String>,
        verbose: bool,
        inner: Inner,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn layers_override_in_order() {
        let path = std::env::temp_dir().join(format!("helios-config-{}.yaml", std::process::id()));
        std::fs::write(&path, "listen: [a]\ninner:\n  url: file\n  retries: 1\n").expect("write");
        let vars = env(&[("HELIOS_X__INNER__URL", "env"), ("HELIOS_X__VERBOSE", "true"), ("OTHER", "1")]);
        let c: Conf = load(Some(&path), "HELIOS_X", vars, &["inner.retries=5".into()]).expect("load");
        assert_eq!(c, Conf { listen: vec!["a".into()], verbose: true, inner: Inner { url: "env".into(), retries: 5 } });
        let c: Conf = load(Some(&path), "HELIOS_X", env(&[]), &["inner.url=flag".into()]).expect("load");
        assert_eq!((c.inner.url.as_str(), c.inner.retries), ("flag", 1));
        std::fs::remove_file(&path).expect("remove");
        let d: Conf = load(None, "HELIOS_X", env(&[]), &[]).expect("defaults");
        assert_eq!(d, Conf::default());
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Secrets {
        url: String,
        port: u16,
        properties: std::collections::BTreeMap<String, String>,
        password_file: String,
        api_token: u32,
    }

    #[test]
    fn secrets_are_printed_and_reported_redacted() {
        // Properties keep their dots: they come from a file, as users write them.
        let path = std::env::temp_dir().join(format!("helios-secrets-{}.yaml", std::process::id()));
        std::fs::write(&path, "properties:\n  sasl.password: kafkapass\n  client.id: c1\n").expect("write");
        let sets = ["url=http://default:chpass@ch:8123".to_owned(), "password_file=/run/secrets/p".to_owned()];
        let c: Secrets = load(Some(&path), "HELIOS_X", env(&[]), &sets).expect("load");
        std::fs::remove_file(&path).expect("remove");
        let printed = to_yaml(&c);
        for secret in ["chpass", "kafkapass"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        for kept in ["http://default:***@ch:8123", "sasl.password: <redacted>", "client.id: c1", "/run/secrets/p"] {
            assert!(printed.contains(kept), "{kept}: {printed}");
        }
        let e = load::<Secrets>(None, "HELIOS_X", env(&[]), &["port=http://u:s3cret@h".into()]).expect_err("type");
        assert!(!e.to_string().contains("s3cret") && e.to_string().contains("--set port=http://u:***@h"), "{e}");
        let e =
            load::<Secrets>(None, "HELIOS_X", env(&[("HELIOS_X__PORT", "http://u:s3cret@h")]), &[]).expect_err("env");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = load::<Secrets>(None, "HELIOS_X", env(&[]), &["api_token=abc123secret".into()]).expect_err("type");
        assert!(!e.to_string().contains("abc123secret") && e.to_string().contains("--set api_token=<redacted>"), "{e}");
    }

    #[test]
    fn errors_name_the_layer() {
        let e = load::<Conf>(None, "HELIOS_X", env(&[("HELIOS_X__INNER__URLL", "x")]), &[]).expect_err("typo");
        assert!(e.to_string().contains("env HELIOS_X__INNER__URLL"), "{e}");
        assert!(e.to_string().contains("urll"), "{e}");
        let e = load::<Conf>(None, "HELIOS_X", env(&[]), &["inner.retries=many".into()]).expect_err("type");
        assert!(e.to_string().contains("--set inner.retries=many"), "{e}");
        let e = load::<Conf>(None, "HELIOS_X", env(&[]), &["verbose".into()]).expect_err("no =");
        assert!(e.to_string().contains("key=value"), "{e}");
        let e = load::<Conf>(None, "HELIOS_X", env(&[]), &["inner..url=x".into()]).expect_err("empty");
        assert!(e.to_string().contains("empty key"), "{e}");
        let e = load::<Conf>(Some(Path::new("/nonexistent/h.yaml")), "HELIOS_X", env(&[]), &[]).expect_err("file");
        assert!(e.to_string().contains("/nonexistent/h.yaml"), "{e}");
    }

    #[test]
    fn print_config_is_yaml_that_loads_back() {
        let c = Conf { listen: vec!["0.0.0.0:2055".into()], ..Conf::default() };
        let back: Conf = serde_yaml_ng::from_str(&to_yaml(&c)).expect("yaml");
        assert_eq!(back, c);
    }
}
