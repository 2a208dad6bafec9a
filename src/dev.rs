//! `runtime-shim dev <folder>`: serve one function folder locally, with the adapter picked from its entry file.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::adapters;
use crate::config::{Env, Overrides};
use crate::contract::Contract;

/// Entry files looked for, in order, when `--file` is not given.
const ENTRY_FILES: &[&str] = &[
    "index.py",
    "main.py",
    "index.js",
    "index.mjs",
    "index.cjs",
    "main.js",
];

/// Works out what `dev` serves: the folder as the code path, the entry file, its adapter, and loopback
/// unless `SHIM_HOST` is set.
pub fn overrides(
    folder: &Path,
    file: Option<String>,
    protocol: Option<Contract>,
    env: &dyn Env,
) -> Result<Overrides, String> {
    let contract = match protocol {
        Some(p) => p,
        None => match env.var("SHIM_PROTOCOL").map_err(|e| e.to_string())? {
            Some(v) if !v.is_empty() => v.parse().map_err(|e| format!("SHIM_PROTOCOL {e}"))?,
            _ => Contract::V1,
        },
    };
    if contract == Contract::Lambda {
        return Err(
            "dev serves HTTP (v1 or v5); the lambda contract has no server: run the shim as \
                    the bootstrap under a Runtime API (README, \"AWS Lambda\")"
                .into(),
        );
    }
    let folder = folder
        .canonicalize()
        .map_err(|e| format!("cannot open the folder {}: {e}", folder.display()))?;
    if !folder.is_dir() {
        return Err(format!("{} is not a folder", folder.display()));
    }
    let file = match file {
        Some(f) => {
            if !folder.join(&f).is_file() {
                return Err(format!("{} has no file {f}", folder.display()));
            }
            f
        }
        None => ENTRY_FILES
            .iter()
            .find(|f| folder.join(f).is_file())
            .map(|f| f.to_string())
            .ok_or_else(|| {
                format!(
                    "{} has none of {}; name the entry file with --file",
                    folder.display(),
                    ENTRY_FILES.join(", ")
                )
            })?,
    };
    let adapter = match env.var("SHIM_ADAPTER").map_err(|e| e.to_string())? {
        Some(a) if !a.is_empty() => a,
        _ => adapters::for_entry_file(&file)
            .ok_or_else(|| {
                format!(
                    "no bundled adapter serves {file}; set SHIM_ADAPTER (bundled: {})",
                    adapters::bundled_names().join(", ")
                )
            })?
            .to_string(),
    };
    let host_set = env
        .var("SHIM_HOST")
        .map_err(|e| e.to_string())?
        .is_some_and(|h| !h.is_empty());
    // v5 development mode: the log id is `dev`, and the log files go where the developer can read them.
    let logs_dir = match contract {
        Contract::V1 | Contract::V2 | Contract::Http | Contract::Lambda => None,
        Contract::V5 => Some(match env.var("SHIM_LOGS_DIR").map_err(|e| e.to_string())? {
            Some(d) if !d.is_empty() => std::path::PathBuf::from(d),
            _ => {
                let d = std::env::temp_dir().join("runtime-shim-dev-logs");
                std::fs::create_dir_all(&d)
                    .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
                d
            }
        }),
    };
    Ok(Overrides {
        host: (!host_set).then_some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port: None,
        adapter: Some(adapter),
        code_path: Some(folder.to_string_lossy().into_owned()),
        entrypoint: Some(file),
        contract: Some(contract),
        development: contract == Contract::V5,
        logs_dir,
        watch: None,
    })
}

/// `dev --watch`: looks at the folder's files every [`WATCH_EVERY`]; once a change has settled (no further
/// change for one more look), every adapter is replaced as soon as it is idle, so the next request runs the new
/// code. Folders that hold dependencies or caches (`node_modules`, `.git`, `__pycache__`, …) are not followed.
pub async fn watch(folder: std::path::PathBuf, state: std::sync::Arc<crate::handler::AppState>) {
    let scan = |folder: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || fingerprint(&folder))
            .await
            .unwrap_or_default()
    };
    let mut seen = scan(folder.clone()).await;
    let mut changed = false;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let now = scan(folder.clone()).await;
        if now != seen {
            seen = now;
            changed = true; // wait for one quiet look: an editor writes a file in several steps
        } else if changed {
            changed = false;
            tracing::info!(folder = %folder.display(), "the function's files changed: reloading the adapters");
            state.pool.reload();
        }
    }
}

/// How often `--watch` looks at the files.
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Every file under `folder` (not following links) with its size and modification time.
fn fingerprint(folder: &Path) -> Vec<(std::path::PathBuf, u64, Option<std::time::SystemTime>)> {
    const SKIPPED: &[&str] = &[
        "node_modules",
        ".git",
        "__pycache__",
        ".venv",
        "target",
        "vendor",
    ];
    let mut out = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            if meta.is_dir() {
                if !SKIPPED.iter().any(|s| entry.file_name() == *s) {
                    pending.push(path);
                }
            } else {
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// The line printed for the developer to paste.
pub fn curl_line(url: &str, key: &str, contract: Contract) -> String {
    match contract {
        Contract::V2 => format!(
            "curl -sS -X POST {url} -H 'x-internal-challenge: {key}' -H 'content-type: application/json' \
             -d '{{\"payload\":\"Hello\",\"variables\":{{\"A\":\"1\"}}}}'"
        ),
        Contract::V1 => format!(
            "curl -sS -X POST {url} -H 'x-internal-challenge: {key}' -H 'content-type: application/json' \
             -d '{{\"payload\":\"Hello World! 2\",\"env\":{{\"ENV1\":\"Hello World!\"}}}}'"
        ),
        Contract::Http if key.is_empty() => format!("curl -sS {url}"),
        Contract::Http => format!("curl -sS {url} -H 'authorization: Bearer {key}'"),
        Contract::Lambda => "the lambda contract has no HTTP server".to_string(),
        Contract::V5 if key.is_empty() => {
            format!(
                "curl -sS {url} -H 'content-type: application/json' -d '{{\"hello\":\"world\"}}'"
            )
        }
        Contract::V5 => format!(
            "curl -sS {url} -H 'x-open-runtimes-secret: {key}' -H 'content-type: application/json' \
             -d '{{\"hello\":\"world\"}}'"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn picks_the_entry_file_and_adapter() {
        let dir = std::env::temp_dir().join(format!("shim-dev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let env: HashMap<String, String> = HashMap::new();
        assert!(
            overrides(&dir, None, None, &env)
                .unwrap_err()
                .contains("--file")
        );
        std::fs::write(dir.join("index.js"), "module.exports = () => {}").unwrap();
        let o = overrides(&dir, None, None, &env).unwrap();
        assert_eq!(o.adapter.as_deref(), Some("node"));
        assert_eq!(o.entrypoint.as_deref(), Some("index.js"));
        assert_eq!(o.host, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(
            overrides(&dir, Some("nope.py".into()), None, &env)
                .unwrap_err()
                .contains("no file nope.py")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
