//! A TOML file with environment overrides, deserialised into a typed value
//! whose errors name the key and where its value came from: what the
//! configuration (`crate::config`) and the policy (`crate::risk::policy`)
//! are both loaded with.

use std::path::{Path, PathBuf};

/// An unreadable file, bad TOML, or a key with a bad value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}`{origin}: {message}")]
    Key { key: String, origin: String, message: String },
}

/// Where each key set from the environment came from (key → variable name).
pub type Origins = std::collections::BTreeMap<String, String>;

/// A TOML file (if any) with `PREFIX<SECTION>__<KEY>` environment overrides,
/// deserialised into `T`; errors name the key and, for overrides, the variable.
pub fn load_layered<T: serde::de::DeserializeOwned>(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    prefix: &str,
) -> Result<(T, Origins), ConfigError> {
    let mut table = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.into(), source })?;
            text.parse::<toml::Table>().map_err(|e| ConfigError::Syntax { path: p.into(), message: e.to_string() })?
        }
        None => toml::Table::new(),
    };
    let mut origins = Origins::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(prefix) else { continue };
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        let key = path.join(".");
        insert(&mut table, &path, scalar(&raw)).map_err(|message| ConfigError::Key {
            key: key.clone(),
            origin: format!(" (from {name})"),
            message,
        })?;
        origins.insert(key, name);
    }
    let value: T = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let origin = origins.get(&key).map(|n| format!(" (from {n})")).unwrap_or_default();
        ConfigError::Key { key, origin, message: e.into_inner().to_string() }
    })?;
    Ok((value, origins))
}

/// `300` → integer, `true` → bool, `["a", "b"]` → array, anything else → the string as given.
fn scalar(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) | toml::Value::Array(_)),
            ) => v,
            _ => toml::Value::String(raw.to_string()),
        },
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => insert(t, rest, value),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}

/// The first TOML example of `docs/<doc>`, written to a file: what a test
/// loads to show the documented example is valid as written.
#[cfg(test)]
pub(crate) fn doc_example(doc: &str) -> (tempfile::TempDir, PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let example = text.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a toml example");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.toml");
    std::fs::write(&file, example).unwrap();
    (dir, file)
}
