//! Which program to start as an adapter: a bundled adapter by name, or any executable by path.
//!
//! Bundled adapters are one file each under `adapters/<name>/`. They are found without configuration both in
//! a checkout (the binary is somewhere under `target/`) and in an image (next to the binary, or under
//! `/usr/local/lib/runtime-shim/adapters`); `SHIM_ADAPTERS_DIR` overrides the search.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A bundled adapter: its name, its file under `adapters/`, the interpreter that runs it (with arguments
/// before the file), the entry files it serves (for guessing the adapter from `APPWRITE_ENTRYPOINT_NAME` and for
/// `dev`).
pub struct Bundled {
    pub name: &'static str,
    pub file: &'static str,
    pub interpreter: &'static str,
    pub args: &'static [&'static str],
    pub extensions: &'static [&'static str],
}

const fn bundled(
    name: &'static str,
    file: &'static str,
    interpreter: &'static str,
    args: &'static [&'static str],
    extensions: &'static [&'static str],
) -> Bundled {
    Bundled {
        name,
        file,
        interpreter,
        args,
        extensions,
    }
}

/// Bun runs the node adapter (`adapters/bun/` holds only its notes) and has no extension of its own: `.js` and `.ts` go to node and deno unless
/// `SHIM_ADAPTER=bun` says otherwise.
pub const BUNDLED: &[Bundled] = &[
    bundled("python", "python/adapter.py", "python3", &[], &["py"]),
    bundled(
        "node",
        "node/adapter.js",
        "node",
        &[],
        &["js", "mjs", "cjs"],
    ),
    bundled("php", "php/adapter.php", "php", &[], &["php"]),
    bundled("ruby", "ruby/adapter.rb", "ruby", &[], &["rb"]),
    bundled("perl", "perl/adapter.pl", "perl", &[], &["pl"]),
    bundled("lua", "lua/adapter.lua", "lua5.4", &[], &["lua"]),
    bundled("bash", "bash/adapter.sh", "bash", &[], &["sh", "bash"]),
    bundled("deno", "deno/adapter.ts", "deno", &["run", "-A"], &["ts"]),
    bundled("bun", "node/adapter.js", "bun", &[], &[]),
];

/// The command that starts one adapter process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// A short name for logs (`python`, or the executable's path).
    pub name: String,
    pub program: OsString,
    pub args: Vec<OsString>,
}

pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|b| b.name).collect()
}

/// The bundled adapter that serves files with this name's extension.
pub fn for_entry_file(file: &str) -> Option<&'static str> {
    let ext = Path::new(file).extension()?.to_str()?;
    BUNDLED
        .iter()
        .find(|b| b.extensions.contains(&ext))
        .map(|b| b.name)
}

/// Turns `SHIM_ADAPTER`'s value into a command. A value with a `/` is a path to an executable; anything
/// else names a bundled adapter. `interpreter` replaces the bundled adapter's default interpreter.
pub fn resolve(
    value: &str,
    interpreter: Option<&str>,
    adapters_dir: Option<&str>,
) -> Result<Launch, String> {
    if value.contains('/') {
        let path = PathBuf::from(value);
        return if is_executable(&path) {
            Ok(Launch {
                name: value.to_string(),
                program: path.into_os_string(),
                args: vec![],
            })
        } else {
            Err(format!("names {value:?}, which is not an executable file"))
        };
    }
    let bundled = BUNDLED.iter().find(|b| b.name == value).ok_or_else(|| {
        format!(
            "names {value:?}, which is not a bundled adapter (bundled: {}); give a path to use \
             another executable",
            bundled_names().join(", ")
        )
    })?;
    let searched = search_dirs(adapters_dir);
    let file = searched
        .iter()
        .map(|dir| dir.join(bundled.file))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "names the bundled adapter {value:?}, but {} was found in none of: {}",
                bundled.file,
                searched
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut args: Vec<OsString> = bundled.args.iter().map(OsString::from).collect();
    args.push(file.into_os_string());
    Ok(Launch {
        name: bundled.name.to_string(),
        program: interpreter.unwrap_or(bundled.interpreter).into(),
        args,
    })
}

/// Finds `<folder>/<name>/` shipped with the binary (e.g. `conformance/python`), like the bundled adapters.
pub fn find_shipped(folder: &str, name: &str) -> Option<PathBuf> {
    shipped_dirs(folder)
        .into_iter()
        .map(|d| d.join(name))
        .find(|d| d.is_dir())
}

/// Folders that may hold `adapters/<name>/`, most specific first.
fn search_dirs(first: Option<&str>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = first.map(PathBuf::from).into_iter().collect();
    dirs.extend(shipped_dirs("adapters"));
    dirs
}

/// Where a folder shipped with the binary may be: next to it, up the tree from it, or installed.
fn shipped_dirs(folder: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        // Next to the binary (an image's /opt/runtime-shim/{runtime-shim,adapters}), then up the tree: a
        // checkout's target/release, target/debug/deps or target/<triple>/release all sit below the repo.
        for ancestor in exe_dir.ancestors().take(5) {
            dirs.push(ancestor.join(folder));
        }
    }
    dirs.push(Path::new("/usr/local/lib/runtime-shim").join(folder));
    dirs.push(Path::new("/usr/lib/runtime-shim").join(folder));
    dirs
}

/// Is `program` (a name looked up on PATH, or a path) runnable?
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| is_executable(&d.join(program))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_files_pick_their_adapter() {
        assert_eq!(for_entry_file("index.py"), Some("python"));
        assert_eq!(for_entry_file("src/main.mjs"), Some("node"));
        assert_eq!(for_entry_file("index.js"), Some("node"));
        assert_eq!(for_entry_file("index.rb"), Some("ruby"));
        assert_eq!(for_entry_file("index.ts"), Some("deno"));
        assert_eq!(for_entry_file("index.cob"), None);
        assert_eq!(for_entry_file("Makefile"), None);
    }

    #[test]
    fn paths_must_be_executable() {
        assert!(resolve("/bin/sh", None, None).is_ok());
        let plain = std::env::temp_dir().join(format!("shim-not-exec-{}", std::process::id()));
        std::fs::write(&plain, "x").unwrap();
        let err = resolve(plain.to_str().unwrap(), None, None).unwrap_err();
        std::fs::remove_file(&plain).unwrap();
        assert!(err.contains("not an executable"), "{err}");
        let err = resolve("cobol", None, None).unwrap_err();
        assert!(err.contains("python, node, php"), "{err}");
    }

    #[test]
    fn bundled_adapters_are_found_from_the_checkout() {
        let launch = resolve("python", Some("/usr/bin/python3"), None).unwrap();
        assert_eq!(launch.program, OsString::from("/usr/bin/python3"));
        assert!(Path::new(&launch.args[0]).ends_with("adapters/python/adapter.py"));
        for b in BUNDLED {
            let launch = resolve(b.name, None, None).unwrap();
            assert_eq!(launch.args.len(), b.args.len() + 1, "{}", b.name);
        }
    }
}
