//! `runtime-shim code extract` and `runtime-shim code archive`: how the v5 images move a function's folder
//! between their build and start steps (SPEC §6, "Files"). The build step archives the built folder into
//! `/mnt/code/code.tar.gz`; the start step extracts it into the function folder before the shim serves it.
//! Doing both in the shim keeps the images' scripts to a few lines and independent of the base image's `tar`
//! (a slim image may have none, or one without zstd), and makes extraction refuse what would escape the folder.
//!
//! Extraction reads a tar archive that is gzip (`1f 8b`), zstd (`28 b5 2f fd`) or plain, told by its first
//! bytes. Every entry's path must stay inside the folder — no absolute path, no `..` — and so must every link:
//! a hard link names an entry of the archive, a symbolic link may point anywhere inside the folder (relative
//! targets such as `node_modules/.bin/x -> ../x/cli.js` are common), and once every entry is written each
//! symbolic link is resolved through the links before it, so a chain of links cannot lead out either.
//! Modes (without setuid bits) and modification times of files, folders and links are kept; owners are not
//! (the image's user owns what it extracts).

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

/// `runtime-shim code …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `code extract [--timings FILE] <archive> <folder>`
    Extract {
        archive: PathBuf,
        folder: PathBuf,
        timings: Option<PathBuf>,
    },
    /// `code archive <folder> <archive>`
    Archive { folder: PathBuf, archive: PathBuf },
}

pub const USAGE: &str = "usage: runtime-shim code extract [--timings FILE] <archive> <folder>\n\
                         \x20      runtime-shim code archive <folder> <archive>";

/// The arguments after `code`.
pub fn parse(args: &[OsString]) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args.iter().cloned());
    let mut action: Option<String> = None;
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut timings = None;
    while let Some(arg) = parser.next().map_err(|e| format!("{e}\n{USAGE}"))? {
        match arg {
            Long("timings") if action.as_deref() == Some("extract") => {
                timings = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?));
            }
            Value(v) if action.is_none() => match v.to_str() {
                Some(a @ ("extract" | "archive")) => action = Some(a.to_string()),
                _ => return Err(format!("unknown code action {v:?}\n{USAGE}")),
            },
            Value(v) if action.is_some() && paths.len() < 2 => paths.push(PathBuf::from(v)),
            other => return Err(format!("{}\n{USAGE}", other.unexpected())),
        }
    }
    let Some(action) = action else {
        return Err(format!("code needs an action, extract or archive\n{USAGE}"));
    };
    let [first, second]: [PathBuf; 2] = paths
        .try_into()
        .map_err(|_| format!("code {action} needs two paths\n{USAGE}"))?;
    match action.as_str() {
        "extract" => Ok(Command::Extract {
            archive: first,
            folder: second,
            timings,
        }),
        _ => Ok(Command::Archive {
            folder: first,
            archive: second,
        }),
    }
}

/// Runs a `code` command: a one-line summary on stdout, or the error on stderr and exit status 1.
pub fn main(command: &Command) -> ExitCode {
    let (name, result) = match command {
        Command::Extract {
            archive,
            folder,
            timings,
        } => ("extract", run_extract(archive, folder, timings.as_deref())),
        Command::Archive { folder, archive } => (
            "archive",
            create(folder, archive).map(|s| {
                format!(
                    "archived {} into {}: {s}",
                    folder.display(),
                    archive.display()
                )
            }),
        ),
    };
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("runtime-shim code {name}: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_extract(archive: &Path, folder: &Path, timings: Option<&Path>) -> Result<String, String> {
    let started = Instant::now();
    let summary = extract(archive, folder)?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(file) = timings {
        append_timing(file, "extract", seconds).map_err(|e| {
            format!(
                "the code is extracted, but recording the time in {} failed: {e}",
                file.display()
            )
        })?;
    }
    Ok(format!(
        "extracted {} into {}: {summary} in {seconds:.3} s",
        archive.display(),
        folder.display()
    ))
}

/// What an archive held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub bytes: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} entries, {} bytes of files", self.entries, self.bytes)
    }
}

/// How an archive is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "tar.gz",
            Compression::Zstd => "tar.zst",
            Compression::None => "tar",
        }
    }
}

/// An error and its causes, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text = format!("{text}: {next}");
        }
        source = s.source();
    }
    text
}

/// Extracts `archive` into `folder` (created when missing). Entries that would land outside `folder` stop the
/// extraction with an error naming them; what was extracted before stays.
pub fn extract(archive: &Path, folder: &Path) -> Result<Summary, String> {
    let file =
        File::open(archive).map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let head = input
        .fill_buf()
        .map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    if head.is_empty() {
        return Err(format!(
            "{} is empty, not an archive (did the build step finish?)",
            archive.display()
        ));
    }
    let compression = Compression::detect(head);
    let reader: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(ZstdFrames::new(input)),
        Compression::None => Box::new(input),
    };
    fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let root = folder
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", folder.display()))?;
    let what = format!(
        "{} ({}) into {}",
        archive.display(),
        compression.name(),
        folder.display()
    );
    unpack(reader, &root).map_err(|e| format!("cannot extract {what}: {e}"))
}

fn unpack(reader: Box<dyn Read>, root: &Path) -> Result<Summary, String> {
    let mut tar = tar::Archive::new(reader);
    tar.set_overwrite(true);
    tar.set_preserve_mtime(true);
    let mut links = Vec::new();
    let result = unpack_entries(&mut tar, root, &mut links).and_then(|summary| {
        // Finish reading: gzip's CRC and zstd's checksum come after the tar's last block.
        io::copy(&mut tar.into_inner(), &mut io::sink())
            .map_err(|e| format!("the archive is corrupt after its last entry: {}", chain(&e)))?;
        Ok(summary)
    });
    // Even when the extraction failed: no link that leads out is left behind.
    let escaped = remove_escaping_links(root, &links);
    match (result, escaped) {
        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
        (Ok(summary), None) => Ok(summary),
    }
}

fn unpack_entries<R: Read>(
    tar: &mut tar::Archive<R>,
    root: &Path,
    links: &mut Vec<(String, PathBuf)>,
) -> Result<Summary, String> {
    let mut summary = Summary::default();
    // Folders last (as tar's own unpack does), deepest first: a read-only folder must not stop its
    // content from being written, and writing content would change a folder's time.
    let mut folders = Vec::new();
    let entries = tar
        .entries()
        .map_err(|e| format!("not a tar archive: {}", chain(&e)))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            format!(
                "the archive is corrupt or truncated after {} entries: {}",
                summary.entries,
                chain(&e)
            )
        })?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = entry
            .path()
            .map_err(|e| format!("entry `{name}`: bad path: {e}"))?
            .into_owned();
        let relative = entry_path(&path).map_err(|why| format!("entry `{name}` {why}"))?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        summary.entries += 1;
        if relative.as_os_str().is_empty() {
            continue; // `./`, the folder itself
        }
        let link = entry
            .link_name()
            .map_err(|e| format!("entry `{name}`: bad link name: {e}"))?
            .map(|l| l.into_owned());
        match (kind, link) {
            (tar::EntryType::Directory, _) => {
                folders.push((relative, entry));
                continue;
            }
            (tar::EntryType::Symlink, Some(target)) => {
                let base = relative.parent().unwrap_or(Path::new(""));
                if inside(base, &target).is_none() {
                    return Err(format!(
                        "entry `{name}` is a symbolic link to {}, outside the folder",
                        target.display()
                    ));
                }
                links.push((name.clone(), relative));
            }
            (tar::EntryType::Link, Some(target)) => {
                if inside(Path::new(""), &target).is_none() {
                    return Err(format!(
                        "entry `{name}` is a hard link to {}, outside the folder",
                        target.display()
                    ));
                }
            }
            (tar::EntryType::Symlink | tar::EntryType::Link, None) => {
                return Err(format!("entry `{name}` is a link without a target"));
            }
            (
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse,
                _,
            ) => {
                summary.bytes += entry.size();
            }
            (other, _) => {
                return Err(format!(
                    "entry `{name}` is a {other:?} entry: only files, folders and links are extracted"
                ));
            }
        }
        unpack_entry(&mut entry, root, &name)?;
    }
    folders.sort_by(|a, b| b.0.cmp(&a.0));
    for (relative, mut entry) in folders {
        let name = relative.display().to_string();
        let mtime = entry.header().mtime().ok();
        unpack_entry(&mut entry, root, &name)?;
        if let Some(mtime) = mtime {
            let t = TimeSpec::new(mtime as i64, 0);
            utimensat(
                nix::fcntl::AT_FDCWD,
                &root.join(&relative),
                &t,
                &t,
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(|e| format!("entry `{name}`: cannot set its time: {e}"))?;
        }
    }
    Ok(summary)
}

/// Resolves every extracted symbolic link through the links around it; removes those that lead out of the
/// folder, and names the first.
fn remove_escaping_links(root: &Path, links: &[(String, PathBuf)]) -> Option<String> {
    let mut first = None;
    for (name, relative) in links {
        let at = root.join(relative);
        let Ok(target) = fs::read_link(&at) else {
            continue; // replaced by a later entry, or never written
        };
        let dir = at.parent().unwrap_or(root);
        if resolve_inside(root, dir, &target, &mut 0).is_none() {
            let _ = fs::remove_file(&at);
            first.get_or_insert_with(|| {
                format!(
                    "entry `{name}` is a symbolic link to {}, which leads outside the folder through \
                     the links before it (removed)",
                    target.display()
                )
            });
        }
    }
    first
}

fn unpack_entry<R: Read>(entry: &mut tar::Entry<R>, root: &Path, name: &str) -> Result<(), String> {
    match entry.unpack_in(root) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("entry `{name}` leads outside the folder")),
        Err(e) => Err(format!("entry `{name}`: {}", chain(&e))),
    }
}

/// An entry's path, relative to the folder: no absolute path, no `..` anywhere (as GNU tar and tar's own
/// unpack refuse it).
fn entry_path(path: &Path) -> Result<PathBuf, String> {
    if path.has_root() {
        return Err(format!("has an absolute path ({})", path.display()));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "has `..` in its path ({}): it could lead outside the folder",
            path.display()
        ));
    }
    inside(Path::new(""), path)
        .ok_or_else(|| format!("has a path outside the folder ({})", path.display()))
}

/// `target` taken from the folder `base` (relative to the extraction folder), without following links:
/// the normalised relative path, or `None` when it is absolute or climbs out with `..`.
fn inside(base: &Path, target: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&OsStr> = base.iter().collect();
    for c in target.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return None,
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => parts.push(p),
        }
    }
    Some(parts.iter().collect())
}

/// Resolves `target` from the real folder `dir` (inside `root`, both canonical) through the symbolic links
/// that exist: where it leads, or `None` when any step leaves `root`, is absolute, or the links loop.
fn resolve_inside(root: &Path, dir: &Path, target: &Path, hops: &mut u32) -> Option<PathBuf> {
    let mut at = dir.to_path_buf();
    for c in target.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return None,
            Component::CurDir => {}
            Component::ParentDir => {
                if at == root {
                    return None;
                }
                at.pop();
            }
            Component::Normal(p) => {
                at.push(p);
                if fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                    *hops += 1;
                    if *hops > 40 {
                        return None;
                    }
                    let next = fs::read_link(&at).ok()?;
                    at.pop();
                    at = resolve_inside(root, &at, &next, hops)?;
                }
            }
        }
    }
    Some(at)
}

/// Reads every zstd frame of a stream in turn (skippable frames are skipped), checking each frame's
/// content checksum when it has one.
struct ZstdFrames<R: BufRead> {
    source: R,
    decoder: ruzstd::decoding::FrameDecoder,
    started: bool,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames {
            source,
            decoder: ruzstd::decoding::FrameDecoder::new(),
            started: false,
        }
    }

    /// Starts the next frame; false at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.decoder.init(&mut self.source) {
                Ok(()) => return Ok(true),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let skipped = io::copy(
                        &mut (&mut self.source).take(u64::from(length)),
                        &mut io::sink(),
                    )?;
                    if skipped != u64::from(length) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "zstd: truncated skippable frame",
                        ));
                    }
                }
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("zstd: {e}"),
                    ));
                }
            }
        }
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.started {
                if !self.next_frame()? {
                    return Ok(0);
                }
                self.started = true;
            }
            while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                self.decoder
                    .decode_blocks(
                        &mut self.source,
                        ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1),
                    )
                    .map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
                    })?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // This frame is done: check it, then go on with the next one.
            if let (Some(want), Some(got)) = (
                self.decoder.get_checksum_from_data(),
                self.decoder.get_calculated_checksum(),
            ) && want != got
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "zstd: content checksum mismatch ({got:08x}, the frame says {want:08x})"
                    ),
                ));
            }
            self.started = false;
        }
    }
}

/// Writes a tar.gz of `folder`'s content to `archive`: entries relative to the folder, dotfiles included,
/// in name order, symbolic links as links; through a temporary file beside `archive`, renamed into place
/// when complete, so a reader never sees half an archive. `archive` itself is left out when it lies inside
/// `folder`. The archive's folder is created when missing.
pub fn create(folder: &Path, archive: &Path) -> Result<Summary, String> {
    let root = folder
        .canonicalize()
        .map_err(|e| format!("cannot read the folder {}: {e}", folder.display()))?;
    if !root.is_dir() {
        return Err(format!("{} is not a folder", folder.display()));
    }
    let file_name = archive
        .file_name()
        .ok_or_else(|| format!("{} names no file", archive.display()))?;
    let dir = match archive.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fs::create_dir_all(dir)
        .and_then(|()| dir.canonicalize())
        .map_err(|e| format!("cannot write into {}: {e}", dir.display()))?;
    let destination = dir.join(file_name);
    let mut temporary_name = OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    let temporary = dir.join(temporary_name);
    let result =
        write_archive(&root, &temporary, &[&destination, &temporary]).and_then(|summary| {
            fs::rename(&temporary, &destination).map_err(|e| {
                format!(
                    "cannot rename {} to {}: {e}",
                    temporary.display(),
                    destination.display()
                )
            })?;
            // The rename is durable once the folder is synced; a folder that cannot be opened is no error.
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(summary)
        });
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write_archive(root: &Path, temporary: &Path, skip: &[&Path]) -> Result<Summary, String> {
    let file = File::create(temporary)
        .map_err(|e| format!("cannot create {}: {e}", temporary.display()))?;
    let gzip = flate2::write::GzEncoder::new(
        BufWriter::with_capacity(256 * 1024, file),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gzip);
    tar.follow_symlinks(false);
    let mut summary = Summary::default();
    append_folder(&mut tar, root, root, skip, &mut summary)?;
    let written = || -> io::Result<()> {
        let mut file = tar
            .into_inner()?
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.flush()?;
        file.sync_all()
    };
    written().map_err(|e| format!("cannot write {}: {}", temporary.display(), chain(&e)))?;
    Ok(summary)
}

/// Appends the content of `dir` to `tar`, depth first in name order: each folder's entry, then what it holds.
fn append_folder<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    dir: &Path,
    skip: &[&Path],
    summary: &mut Summary,
) -> Result<(), String> {
    let mut children = fs::read_dir(dir)
        .and_then(|it| {
            it.map(|e| e.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()
        })
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    children.sort();
    for path in children {
        if skip.contains(&path.as_path()) {
            continue;
        }
        let relative = path.strip_prefix(root).expect("walked from the root");
        let meta = fs::symlink_metadata(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        tar.append_path_with_name(&path, relative)
            .map_err(|e| format!("cannot archive {}: {}", path.display(), chain(&e)))?;
        summary.entries += 1;
        if meta.is_file() {
            summary.bytes += meta.len();
        }
        if meta.is_dir() {
            append_folder(tar, root, &path, skip, summary)?;
        }
    }
    Ok(())
}

/// Appends `key=<seconds, 3 decimals>` to the timings file (SPEC §6: `/mnt/telemetry/timings.txt`, shown
/// by `/__opr/timings`), creating its folder.
pub fn append_timing(file: &Path, key: &str, seconds: f64) -> io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    f.write_all(format!("{key}={seconds:.3}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shim-archive-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mtime(p: &Path) -> i64 {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(p).unwrap().mtime()
    }

    fn set_mtime(p: &Path, secs: i64) {
        let t = TimeSpec::new(secs, 0);
        utimensat(
            nix::fcntl::AT_FDCWD,
            p,
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }

    /// A tar (plain) with the given raw entries: (path, type, link target, content).
    fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, link, data) in entries {
            let mut h = tar::Header::new_gnu();
            // Written into the header's bytes directly: tar's own setters refuse `..` and absolute paths.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            if !link.is_empty() {
                h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn round_trip_keeps_content_modes_times_links_and_dotfiles() {
        let dir = scratch("round");
        let src = dir.join("src");
        fs::create_dir_all(src.join("lib/deep")).unwrap();
        fs::write(src.join("main.py"), "def main(context): ...\n").unwrap();
        fs::write(
            src.join(".open-runtimes"),
            "OPEN_RUNTIMES_ENTRYPOINT=main.py\n",
        )
        .unwrap();
        fs::write(src.join("lib/deep/run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            src.join("lib/deep/run.sh"),
            fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        symlink("deep/run.sh", src.join("lib/run")).unwrap();
        set_mtime(&src.join("main.py"), 1_600_000_000);
        set_mtime(&src.join("lib/deep"), 1_500_000_000);
        let archive = dir.join("code.tar.gz");
        let made = create(&src, &archive).unwrap();
        assert_eq!(made.entries, 6, "{made:?}");
        assert!(
            !dir.join(format!(".code.tar.gz.{}.tmp", std::process::id()))
                .exists()
        );
        assert_eq!(&fs::read(&archive).unwrap()[..2], &[0x1f, 0x8b]);

        let out = dir.join("out/function"); // created, with its parent
        let got = extract(&archive, &out).unwrap();
        assert_eq!(got, made);
        assert_eq!(
            fs::read_to_string(out.join("main.py")).unwrap(),
            "def main(context): ...\n"
        );
        assert!(out.join(".open-runtimes").is_file());
        let mode = fs::metadata(out.join("lib/deep/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
        assert_eq!(
            fs::read_link(out.join("lib/run")).unwrap(),
            Path::new("deep/run.sh")
        );
        assert_eq!(mtime(&out.join("main.py")), 1_600_000_000);
        assert_eq!(mtime(&out.join("lib/deep")), 1_500_000_000);
        // Entries are relative, without the folder itself.
        let mut names = Vec::new();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(File::open(&archive).unwrap()));
        for e in a.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(
            names,
            [
                ".open-runtimes",
                "lib",
                "lib/deep",
                "lib/deep/run.sh",
                "lib/run",
                "main.py"
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_archive_inside_its_folder_leaves_itself_out() {
        let dir = scratch("self");
        fs::write(dir.join("a.txt"), "a").unwrap();
        let archive = dir.join("code.tar.gz");
        create(&dir, &archive).unwrap();
        create(&dir, &archive).unwrap(); // again, with the first one present
        let out = dir.join("out");
        assert_eq!(extract(&archive, &out).unwrap().entries, 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zstd_and_plain_archives_extract() {
        let dir = scratch("formats");
        let tar = raw_tar(&[
            ("hello.txt", tar::EntryType::Regular, "", b"hello\n"),
            ("sub/x", tar::EntryType::Regular, "", b"x"),
        ]);
        fs::write(dir.join("plain.tar"), &tar).unwrap();
        // Two frames, one compressed and one stored, with a skippable frame between: all one stream.
        let half = tar.len() / 2;
        let mut zst = ruzstd::encoding::compress_to_vec(
            &tar[..half],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        zst.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        zst.extend(ruzstd::encoding::compress_to_vec(
            &tar[half..],
            ruzstd::encoding::CompressionLevel::Uncompressed,
        ));
        fs::write(dir.join("two.tar.zst"), &zst).unwrap();
        for name in ["plain.tar", "two.tar.zst"] {
            let out = dir.join(format!("out-{name}"));
            let s = extract(&dir.join(name), &out).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.entries, 2, "{name}");
            assert_eq!(
                fs::read(out.join("hello.txt")).unwrap(),
                b"hello\n",
                "{name}"
            );
            assert_eq!(fs::read(out.join("sub/x")).unwrap(), b"x", "{name}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    /// tests/fixtures/archives/hello.tar.zst, made by the zstd command line (see the README there).
    #[test]
    fn a_zstd_archive_of_the_zstd_command_line_extracts() {
        let dir = scratch("fixture");
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/archives/hello.tar.zst");
        let s = extract(&fixture, &dir).unwrap();
        assert_eq!(s.entries, 4, "{s:?}");
        assert_eq!(
            fs::read_to_string(dir.join("hello/main.py")).unwrap(),
            "print('hello')\n"
        );
        let text = fs::read_to_string(dir.join("hello/lorem.txt")).unwrap();
        assert_eq!(text.lines().count(), 200);
        assert_eq!(
            fs::read_link(dir.join("hello/link")).unwrap(),
            Path::new("main.py")
        );
        // A corrupt copy: one byte changed inside the compressed data.
        let mut bytes = fs::read(&fixture).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        fs::write(dir.join("bad.tar.zst"), &bytes).unwrap();
        let e = extract(&dir.join("bad.tar.zst"), &dir.join("bad")).unwrap_err();
        assert!(e.contains("tar.zst"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn escapes_are_refused_naming_the_entry() {
        let dir = scratch("escape");
        let cases: &[(&str, Vec<u8>, &str)] = &[
            (
                "dotdot",
                raw_tar(&[("a/../../evil", tar::EntryType::Regular, "", b"x")]),
                "`a/../../evil`",
            ),
            (
                "absolute",
                raw_tar(&[("/tmp/evil", tar::EntryType::Regular, "", b"x")]),
                "absolute path",
            ),
            (
                "symlink-abs",
                raw_tar(&[("l", tar::EntryType::Symlink, "/etc", b"")]),
                "entry `l` is a symbolic link to /etc",
            ),
            (
                "symlink-up",
                raw_tar(&[("sub/l", tar::EntryType::Symlink, "../../x", b"")]),
                "entry `sub/l` is a symbolic link to ../../x",
            ),
            (
                "hardlink",
                raw_tar(&[("h", tar::EntryType::Link, "../secret", b"")]),
                "entry `h` is a hard link",
            ),
            (
                // `u` is the folder itself, so `u/..` is its parent, though it reads as the folder.
                "chain",
                raw_tar(&[
                    ("u", tar::EntryType::Symlink, ".", b""),
                    ("x", tar::EntryType::Symlink, "u/..", b""),
                ]),
                "entry `x` is a symbolic link to u/.., which leads outside",
            ),
            (
                // Writing through a link that leads out.
                "through",
                raw_tar(&[
                    ("u", tar::EntryType::Symlink, ".", b""),
                    ("x", tar::EntryType::Symlink, "u/..", b""),
                    ("x/evil", tar::EntryType::Regular, "", b"x"),
                ]),
                "entry `x/evil`",
            ),
            (
                "fifo",
                raw_tar(&[("p", tar::EntryType::Fifo, "", b"")]),
                "entry `p` is a Fifo entry",
            ),
        ];
        for (name, bytes, expected) in cases {
            let archive = dir.join(format!("{name}.tar"));
            fs::write(&archive, bytes).unwrap();
            let out = dir.join(format!("{name}/in"));
            let e = extract(&archive, &out).unwrap_err();
            assert!(e.contains(expected), "{name}: {e}");
            assert!(!dir.join(format!("{name}/evil")).exists(), "{name}");
            assert!(!dir.join(format!("{name}/x")).exists(), "{name}");
        }
        assert!(!Path::new("/tmp/evil").exists());
        // Links that stay inside are fine, `..` included.
        let ok = raw_tar(&[
            ("node_modules/x/cli.js", tar::EntryType::Regular, "", b"cli"),
            (
                "node_modules/.bin/x",
                tar::EntryType::Symlink,
                "../x/cli.js",
                b"",
            ),
            ("same", tar::EntryType::Link, "node_modules/x/cli.js", b""),
        ]);
        fs::write(dir.join("ok.tar"), ok).unwrap();
        extract(&dir.join("ok.tar"), &dir.join("ok")).unwrap();
        assert_eq!(
            fs::read(dir.join("ok/node_modules/.bin/x")).unwrap(),
            b"cli"
        );
        assert_eq!(fs::read(dir.join("ok/same")).unwrap(), b"cli");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_empty_and_corrupt_archives_say_so() {
        let dir = scratch("bad");
        let e = extract(&dir.join("none.tar.gz"), &dir.join("out")).unwrap_err();
        assert!(
            e.contains("cannot open") && e.contains("none.tar.gz"),
            "{e}"
        );
        fs::write(dir.join("empty.tar.gz"), b"").unwrap();
        let e = extract(&dir.join("empty.tar.gz"), &dir.join("out")).unwrap_err();
        assert!(e.contains("is empty"), "{e}");
        fs::write(dir.join("junk"), vec![b'j'; 1024]).unwrap();
        let e = extract(&dir.join("junk"), &dir.join("out")).unwrap_err();
        assert!(e.contains("(tar)") && e.contains("corrupt"), "{e}");
        // A gzip archive cut short.
        fs::write(dir.join("src.txt"), vec![b'z'; 100_000]).unwrap();
        create(&dir, &dir.join("whole.tar.gz")).unwrap();
        let whole = fs::read(dir.join("whole.tar.gz")).unwrap();
        fs::write(dir.join("cut.tar.gz"), &whole[..whole.len() - 10]).unwrap();
        let e = extract(&dir.join("cut.tar.gz"), &dir.join("cut")).unwrap_err();
        assert!(e.contains("(tar.gz)"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timings_line_is_appended_creating_its_folder() {
        let dir = scratch("timings");
        let file = dir.join("telemetry/timings.txt");
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/a"), "a").unwrap();
        create(&dir.join("src"), &dir.join("code.tar.gz")).unwrap();
        append_timing(&file, "other", 1.0).unwrap();
        let summary = run_extract(&dir.join("code.tar.gz"), &dir.join("out"), Some(&file)).unwrap();
        assert!(summary.contains("1 entries"), "{summary}");
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "other=1.000");
        let value = lines[1].strip_prefix("extract=").expect("an extract= line");
        assert_eq!(value.split('.').nth(1).map(str::len), Some(3), "{value}");
        assert!(value.parse::<f64>().unwrap() < 10.0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn command_line() {
        let p = |a: &[&str]| parse(&a.iter().map(OsString::from).collect::<Vec<_>>());
        assert_eq!(
            p(&[
                "extract",
                "--timings",
                "/mnt/telemetry/timings.txt",
                "a.tgz",
                "out"
            ]),
            Ok(Command::Extract {
                archive: "a.tgz".into(),
                folder: "out".into(),
                timings: Some("/mnt/telemetry/timings.txt".into())
            })
        );
        assert_eq!(
            p(&["archive", "dir", "a.tgz"]),
            Ok(Command::Archive {
                folder: "dir".into(),
                archive: "a.tgz".into()
            })
        );
        assert!(
            p(&["archive", "dir"])
                .unwrap_err()
                .contains("needs two paths")
        );
        assert!(p(&["archive", "--timings", "t", "a", "b"]).is_err());
        assert!(
            p(&["unpack", "a", "b"])
                .unwrap_err()
                .contains("unknown code action")
        );
        assert!(p(&["extract", "a", "b", "c"]).is_err());
    }
}
