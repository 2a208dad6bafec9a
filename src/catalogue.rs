//! `runtime-shim runtimes [--json]`: the catalogue of runtime images (`runtimes/catalogue.json`, built into
//! the binary), the same data the image build and publish scripts read.

use serde::{Deserialize, Serialize};

pub const CATALOGUE: &str = include_str!("../runtimes/catalogue.json");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Catalogue {
    pub runtimes: Vec<Runtime>,
    /// Size of the `Dockerfile.base` stage, from the last measured build.
    pub base_size_mb: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Runtime {
    pub name: String,
    pub version: String,
    pub folder: String,
    /// `interpreted` or `compiled`.
    pub kind: String,
    pub build_image: String,
    pub run_image: String,
    /// The v5 default entry file (`OPEN_RUNTIMES_ENTRYPOINT`).
    pub entrypoint: String,
    pub platforms: Vec<String>,
    /// Whether the image test (`tests/images/run.sh`) passes for it here.
    pub tested: bool,
    /// Why the image test cannot build it without a registry (no such version from Debian or the host).
    pub skip_offline: Option<String>,
    pub image_size_mb: Option<f64>,
}

pub fn load() -> Result<Catalogue, String> {
    serde_json::from_str(CATALOGUE).map_err(|e| format!("runtimes/catalogue.json: {e}"))
}

/// The catalogue as an aligned table.
pub fn table(c: &Catalogue) -> String {
    let size = |s: Option<f64>| s.map_or("-".to_string(), |mb| format!("{mb:.1} MB"));
    let mut rows: Vec<[String; 8]> = vec![
        [
            "runtime",
            "kind",
            "build image",
            "run image",
            "platforms",
            "tested",
            "size",
            "folder",
        ]
        .map(String::from),
    ];
    for r in &c.runtimes {
        rows.push([
            format!("{}-{}", r.name, r.version),
            r.kind.clone(),
            r.build_image.clone(),
            r.run_image.clone(),
            r.platforms.join(","),
            match (&r.skip_offline, r.tested) {
                (_, true) => "yes",
                (Some(_), false) => "official only",
                (None, false) => "no",
            }
            .to_string(),
            size(r.image_size_mb),
            format!("runtimes/{}", r.folder),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} runtimes ({} languages), {} tested here; base stage {}\n",
        c.runtimes.len(),
        {
            let mut names: Vec<&str> = c.runtimes.iter().map(|r| r.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            names.len()
        },
        c.runtimes.iter().filter(|r| r.tested).count(),
        size(c.base_size_mb)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_parses_and_names_existing_folders() {
        let c = load().unwrap();
        assert!(!c.runtimes.is_empty());
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runtimes");
        for r in &c.runtimes {
            assert!(
                r.kind == "interpreted" || r.kind == "compiled",
                "{}",
                r.name
            );
            assert!(!r.platforms.is_empty(), "{}", r.name);
            assert_eq!(r.folder, format!("{}-{}", r.name, r.version));
            assert!(
                root.join(&r.folder).join("README.md").is_file(),
                "runtimes/{}/README.md is missing",
                r.folder
            );
            assert!(
                root.join(&r.name).join("build.sh").is_file(),
                "runtimes/{}/build.sh is missing",
                r.name
            );
        }
        for lang in ["python", "node", "php", "ruby", "go", "java"] {
            let versions = c.runtimes.iter().filter(|r| r.name == lang).count();
            assert!(versions >= 3, "{lang}: {versions} versions");
        }
        let t = table(&c);
        assert!(t.starts_with("runtime"));
        assert!(t.contains(&c.runtimes[0].name));
    }
}
