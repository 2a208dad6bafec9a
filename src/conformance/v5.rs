//! `runtime-shim conformance --protocol v5 <adapter>`: the v5 contract's cases (`conformance/v5.json`, built
//! into the binary) against an adapter's `context` API, through a real shim in v5 mode.
//!
//! Each language supplies `conformance/v5/<lang>/` with `main.<ext>` (one function that does what the
//! request's `x-action` header names) and the extra entry files some cases start the shim with. A case may
//! name its own entry file and environment; the kit starts one shim per distinct pair and reuses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Options, Outcome, ShimUnderTest, client, expand, functions_folder};

/// The cases, as data.
pub const CASES: &str = include_str!("../../conformance/v5.json");

#[derive(Deserialize)]
struct Suite {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    /// The entry file, `{ext}` replaced: `main.{ext}` unless given.
    #[serde(default)]
    entrypoint: Option<String>,
    /// Extra environment of the shim under test.
    #[serde(default)]
    env: Map<String, Value>,
    #[serde(default)]
    workers: Option<usize>,
    /// Copies of the single step run at once.
    #[serde(default)]
    concurrent: usize,
    steps: Vec<Step>,
}

#[derive(Deserialize, Clone)]
struct Step {
    #[serde(default)]
    request: Request,
    expect: Expect,
}

#[derive(Deserialize, Clone, Default)]
struct Request {
    #[serde(default)]
    method: Option<String>,
    /// The request target: path and query.
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    headers: Map<String, Value>,
    /// The body as text (placeholders and `$repeat` expanded).
    #[serde(default)]
    body: Option<Value>,
    /// The body as hex, for bytes that are not UTF-8.
    #[serde(default)]
    body_hex: Option<String>,
    /// `false`: send no secret; a string: send it (the kit sends the right one otherwise).
    #[serde(default)]
    secret: Option<Value>,
    /// Send no `x-open-runtimes-log-id` (the kit sends one of its own unless the headers give one).
    #[serde(default)]
    no_log_id: bool,
}

#[derive(Deserialize, Clone, Default)]
struct Expect {
    status: u16,
    /// Headers that must have exactly these values (the last value of a repeated header).
    #[serde(default)]
    headers: Map<String, Value>,
    /// Headers that must be absent.
    #[serde(default)]
    no_headers: Vec<String>,
    /// Every value of a repeated header, in order.
    #[serde(default)]
    header_values: Map<String, Value>,
    text: Option<Value>,
    json: Option<Value>,
    /// Keys that the JSON body must have with these values (others may be there too).
    json_subset: Option<Map<String, Value>>,
    /// Keys the JSON body must not have.
    #[serde(default)]
    json_absent: Vec<String>,
    body_hex: Option<String>,
    body_len: Option<usize>,
    /// The body repeats this byte pattern (hex) to `body_len`.
    body_pattern_hex: Option<String>,
    /// The whole `_logs.log` / `_errors.log`, line by line.
    logs: Option<Vec<Value>>,
    errors: Option<Vec<Value>>,
    /// Lines or fragments that must be in the files.
    #[serde(default)]
    logs_contain: Vec<Value>,
    #[serde(default)]
    errors_contain: Vec<Value>,
    /// No log file may exist for the log id the kit sent (logging disabled), and the reply's id is empty.
    #[serde(default)]
    no_log_files: bool,
    /// Files of the logs folder that must not exist.
    #[serde(default)]
    absent_files: Vec<String>,
    /// The log id the reply must carry.
    log_id: Option<String>,
    /// The length of the log id the reply must carry.
    log_id_len: Option<usize>,
    within_ms: Option<u64>,
    /// A file the function must not have written by the time the kit checks, `settle_ms` after the reply.
    #[serde(default)]
    absent_marker: bool,
    settle_ms: Option<u64>,
}

/// The telemetry file the kit starts each shim with; `/__opr/timings` must answer it as it is.
const TIMINGS: &str = "local_download=0.200\nremote_download=10.560\nextract=0.012\n";

/// Values that make each run and each concurrent copy distinct.
struct Vars<'a> {
    ext: &'a str,
    token: &'a str,
    marker_dir: &'a str,
}

/// One shim in v5 mode, with its logs folder.
struct V5Shim {
    shim: ShimUnderTest,
    secret: String,
    logs_dir: PathBuf,
}

pub fn run(options: &Options) -> Result<Vec<Outcome>, String> {
    let suite: Suite =
        serde_json::from_str(CASES).map_err(|e| format!("conformance/v5.json: {e}"))?;
    let functions = functions_folder(options, "conformance/v5")?;
    let ext = extension_of_main(&functions)?;
    let token = format!("tok{}", crate::config::random_hex(6));
    let scratch = std::env::temp_dir().join(format!("runtime-shim-v5-{token}"));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("cannot create {scratch:?}: {e}"))?;
    let marker_dir = scratch.join("markers");
    let _ = std::fs::create_dir_all(&marker_dir);
    let vars = Vars {
        ext: &ext,
        token: &token,
        marker_dir: &marker_dir.to_string_lossy(),
    };

    let mut shims: HashMap<String, V5Shim> = HashMap::new();
    let mut outcomes = Vec::new();
    for case in &suite.cases {
        let started = Instant::now();
        let entry = case
            .entrypoint
            .as_deref()
            .unwrap_or("main.{ext}")
            .replace("{ext}", &ext);
        let env: Vec<(String, String)> = case
            .env
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().unwrap_or_default().replace("{token}", &token),
                )
            })
            .collect();
        let workers = case.workers.unwrap_or(1);
        let identity = format!("{entry}|{env:?}|{workers}");
        if !shims.contains_key(&identity) {
            let n = shims.len();
            match start(
                options,
                &functions,
                &entry,
                &env,
                workers,
                &scratch.join(n.to_string()),
            ) {
                Ok(shim) => {
                    shims.insert(identity.clone(), shim);
                }
                Err(e) => {
                    outcomes.push(Outcome {
                        name: case.name.clone(),
                        failure: Some(format!("the shim did not start: {e}")),
                        millis: started.elapsed().as_millis(),
                    });
                    continue;
                }
            }
        }
        let shim = &shims[&identity];
        let failure = if case.concurrent > 0 {
            let step = &case.steps[0];
            super::in_copies(case.concurrent, |i| check(shim, step, &vars, i).err())
        } else {
            super::first_failing_step(&case.steps, |step| check(shim, step, &vars, 0).err())
        };
        outcomes.push(Outcome {
            name: case.name.clone(),
            failure,
            millis: started.elapsed().as_millis(),
        });
    }
    drop(shims);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(outcomes)
}

fn extension_of_main(dir: &Path) -> Result<String, String> {
    std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_prefix("main.").map(str::to_string)
        })
        .ok_or_else(|| format!("{} has no main.* file", dir.display()))
}

fn start(
    options: &Options,
    functions: &Path,
    entry: &str,
    env: &[(String, String)],
    workers: usize,
    dir: &Path,
) -> Result<V5Shim, String> {
    let logs_dir = dir.join("logs");
    let telemetry = dir.join("telemetry");
    for d in [&logs_dir, &telemetry] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {d:?}: {e}"))?;
    }
    // What the executor's start step leaves: earlier timings, and its own `extract=`.
    std::fs::write(telemetry.join("timings.txt"), TIMINGS)
        .map_err(|e| format!("cannot write the timings: {e}"))?;
    let secret = format!("secret-{}", crate::config::random_hex(8));
    let workers = workers.to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("SHIM_PROTOCOL", "v5"),
        super::adapter_variable(&options.adapter),
        ("OPEN_RUNTIMES_SECRET", &secret),
        ("OPEN_RUNTIMES_ENTRYPOINT", entry),
        ("OPEN_RUNTIMES_ENV", "production"),
        ("SHIM_WORKERS", &workers),
        ("SHIM_MAX_TIMEOUT", "60"),
    ];
    let (functions, logs, tele) = (
        functions.to_string_lossy(),
        logs_dir.to_string_lossy(),
        telemetry.to_string_lossy(),
    );
    all.push(("SHIM_CODE_PATH", &functions));
    all.push(("SHIM_LOGS_DIR", &logs));
    all.push(("SHIM_TELEMETRY_DIR", &tele));
    for (k, v) in env {
        all.retain(|(name, _)| name != k);
        all.push((k, v));
    }
    let secret = all
        .iter()
        .find(|(k, _)| *k == "OPEN_RUNTIMES_SECRET")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let shim = ShimUnderTest::start(options, &all, String::new())?;
    Ok(V5Shim {
        shim,
        secret,
        logs_dir,
    })
}

/// Expands `{ext}`, `{token}`, `{i}`, `{markers}` and `$repeat` in a value.
fn vars_of(v: &Value, vars: &Vars<'_>, i: usize) -> Value {
    expand(v, &|s: &str| {
        s.replace("{ext}", vars.ext)
            .replace("{token}", vars.token)
            .replace("{markers}", vars.marker_dir)
            .replace("{i}", &i.to_string())
    })
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("bad hex {s:?}")))
        .collect()
}

fn check(shim: &V5Shim, step: &Step, vars: &Vars<'_>, i: usize) -> Result<(), String> {
    let req = &step.request;
    let e = &step.expect;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in &req.headers {
        let v = vars_of(v, vars, i);
        match v {
            Value::Array(values) => headers.extend(values.iter().map(|v| (k.clone(), as_text(v)))),
            v => headers.push((k.clone(), as_text(&v))),
        }
    }
    match &req.secret {
        None if !shim.secret.is_empty() => {
            headers.push(("x-open-runtimes-secret".into(), shim.secret.clone()));
        }
        Some(Value::String(s)) => headers.push(("x-open-runtimes-secret".into(), s.clone())),
        _ => {}
    }
    // A log id of our own unless the case chooses (so files of different steps never mix).
    let own_id = format!("{}x{i}x{}", vars.token, crate::config::random_hex(4));
    if !req.no_log_id
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-open-runtimes-log-id"))
    {
        headers.push(("x-open-runtimes-log-id".into(), own_id));
    }
    let body = match (&req.body, &req.body_hex) {
        (_, Some(h)) => hex(h)?,
        (Some(b), None) => as_text(&vars_of(b, vars, i)).into_bytes(),
        (None, None) => Vec::new(),
    };
    let target = vars_of(
        &Value::String(req.path.clone().unwrap_or_else(|| "/".into())),
        vars,
        i,
    );
    let started = Instant::now();
    let r = client::request(
        shim.shim.addr,
        req.method.as_deref().unwrap_or("POST"),
        target.as_str().unwrap_or("/"),
        &headers,
        &body,
        Duration::from_secs(90),
    )
    .map_err(|e| format!("request failed: {e}"))?;
    let took = started.elapsed();
    let shown = || {
        let t = r.text();
        let cut: String = t.chars().take(300).collect();
        if cut.len() < t.len() {
            format!("{cut}…")
        } else {
            cut
        }
    };
    if r.status != e.status {
        return Err(format!(
            "status {}, expected {}: {}",
            r.status,
            e.status,
            shown()
        ));
    }
    for (name, want) in &e.headers {
        let want = as_text(&vars_of(want, vars, i));
        if r.header(name) != Some(want.as_str()) {
            return Err(format!(
                "header {name}: {:?}, expected {want:?}",
                r.header(name)
            ));
        }
    }
    for name in &e.no_headers {
        if let Some(v) = r.header(name) {
            return Err(format!("header {name} should be absent, is {v:?}"));
        }
    }
    for (name, want) in &e.header_values {
        let want: Vec<String> = match vars_of(want, vars, i) {
            Value::Array(v) => v.iter().map(as_text).collect(),
            v => vec![as_text(&v)],
        };
        let got: Vec<String> = r
            .lines
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect();
        if got != want {
            return Err(format!("header {name}: {got:?}, expected {want:?}"));
        }
    }
    if let Some(want) = &e.text {
        let want = as_text(&vars_of(want, vars, i));
        if r.body != want.as_bytes() {
            return Err(format!("body {:?}, expected {:?}", shown(), short(&want)));
        }
    }
    if let Some(want) = &e.json {
        let want = vars_of(want, vars, i);
        let got: Value = serde_json::from_slice(&r.body)
            .map_err(|_| format!("body is not JSON: {}", shown()))?;
        if got != want {
            return Err(format!(
                "body {}, expected {}",
                shown(),
                short(&want.to_string())
            ));
        }
    }
    if e.json_subset.is_some() || !e.json_absent.is_empty() {
        let got: Value = serde_json::from_slice(&r.body)
            .map_err(|_| format!("body is not JSON: {}", shown()))?;
        for (k, want) in e.json_subset.iter().flatten() {
            let want = vars_of(want, vars, i);
            if got.get(k) != Some(&want) {
                return Err(format!(
                    "body's {k:?} is {:?}, expected {want}: {}",
                    got.get(k),
                    shown()
                ));
            }
        }
        if let Some(k) = e.json_absent.iter().find(|k| got.get(k.as_str()).is_some()) {
            return Err(format!("body has {k:?}, which must be absent: {}", shown()));
        }
    }
    if let Some(want) = &e.body_hex
        && r.body != hex(want)?
    {
        return Err(format!(
            "body {:02x?}, expected {want}",
            &r.body[..r.body.len().min(64)]
        ));
    }
    if let Some(len) = e.body_len
        && r.body.len() != len
    {
        return Err(format!("body of {} bytes, expected {len}", r.body.len()));
    }
    if let Some(pattern) = &e.body_pattern_hex {
        let pattern = hex(pattern)?;
        if let Some(at) = r
            .body
            .iter()
            .enumerate()
            .position(|(n, b)| *b != pattern[n % pattern.len()])
        {
            return Err(format!("body differs from the pattern at byte {at}"));
        }
    }
    if let Some(limit) = e.within_ms
        && took > Duration::from_millis(limit)
    {
        return Err(format!(
            "answered after {} ms, limit {limit} ms",
            took.as_millis()
        ));
    }
    let id = r
        .header("x-open-runtimes-log-id")
        .unwrap_or_default()
        .to_string();
    if let Some(want) = &e.log_id {
        let want = as_text(&vars_of(&Value::String(want.clone()), vars, i));
        if id != want {
            return Err(format!("log id {id:?}, expected {want:?}"));
        }
    }
    if let Some(len) = e.log_id_len
        && id.len() != len
    {
        return Err(format!("log id {id:?} is not {len} characters long"));
    }
    let sent_id = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-open-runtimes-log-id"))
        .map(|(_, v)| v.clone());
    check_files(shim, e, &id, sent_id.as_deref(), vars, i)?;
    if e.absent_marker {
        std::thread::sleep(Duration::from_millis(e.settle_ms.unwrap_or(0)));
        let marker = Path::new(vars.marker_dir).join(format!("{}-{i}", vars.token));
        if marker.exists() {
            return Err(format!(
                "{} exists: the function went on running after its timeout",
                marker.display()
            ));
        }
    }
    Ok(())
}

fn short(s: &str) -> String {
    if s.len() > 300 {
        format!("{}…", &s[..s.floor_char_boundary(300)])
    } else {
        s.to_string()
    }
}

fn check_files(
    shim: &V5Shim,
    e: &Expect,
    id: &str,
    sent_id: Option<&str>,
    vars: &Vars<'_>,
    i: usize,
) -> Result<(), String> {
    let wants_files = e.logs.is_some()
        || e.errors.is_some()
        || !e.logs_contain.is_empty()
        || !e.errors_contain.is_empty();
    let mut absent: Vec<String> = e
        .absent_files
        .iter()
        .map(|f| as_text(&vars_of(&Value::String(f.clone()), vars, i)))
        .collect();
    if e.no_log_files {
        if !id.is_empty() {
            return Err(format!(
                "logging is disabled, yet the reply's log id is {id:?}"
            ));
        }
        if let Some(sent) = sent_id {
            absent.push(format!("{sent}_logs.log"));
            absent.push(format!("{sent}_errors.log"));
        }
    }
    if let Some(file) = absent.iter().find(|f| shim.logs_dir.join(f).exists()) {
        return Err(format!("{file} exists in the logs folder, and must not"));
    }
    if !wants_files {
        return Ok(());
    }
    if id.is_empty() {
        return Err("the reply carries no x-open-runtimes-log-id".into());
    }
    for (suffix, whole, parts) in [
        ("logs", &e.logs, &e.logs_contain),
        ("errors", &e.errors, &e.errors_contain),
    ] {
        let path = shim.logs_dir.join(format!("{id}_{suffix}.log"));
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        if let Some(lines) = whole {
            let want: Vec<String> = lines
                .iter()
                .map(|l| as_text(&vars_of(l, vars, i)))
                .collect();
            let got: Vec<&str> = text.lines().collect();
            if got != want {
                return Err(format!(
                    "{suffix} file is {:?}, expected {:?}",
                    short(&format!("{got:?}")),
                    short(&format!("{want:?}"))
                ));
            }
        }
        for part in parts {
            let part = as_text(&vars_of(part, vars, i));
            if !text.contains(&part) {
                return Err(format!(
                    "{suffix} file lacks {:?}; it is {:?}",
                    short(&part),
                    short(&text)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v5_cases_parse() {
        let suite: Suite = serde_json::from_str(CASES).unwrap();
        assert!(suite.cases.len() >= 40, "{}", suite.cases.len());
        for case in &suite.cases {
            assert!(!case.steps.is_empty(), "{}", case.name);
            if case.concurrent > 0 {
                assert_eq!(case.steps.len(), 1, "{}", case.name);
            }
        }
    }
}
